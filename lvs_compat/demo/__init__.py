"""The seed's whole scenario on one machine (issue 7): ``bin/lvs-compat-demo``, ``make demo``.

* ``topology``: the network namespaces (client, lvs1, lvs2, www1, www2 and the bridge's hub);
* ``webserver``: the real servers' HTTP server (one small process each, says who it is);
* ``scenario``: builds the cluster from the seed's files, drives the story, narrates, measures;
* ``plot``: the PNG of the timeline (stdlib zlib only);
* ``cli``: the executable: prerequisites, then the scenario here (the host kernel has IPVS) or
  in the QEMU guest of ``tools/ipvs-vm`` (it has not).
"""
