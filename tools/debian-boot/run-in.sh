#!/bin/bash
# tools/debian-boot/run-in.sh (from ../shared/reference/debian-boot, REPORT.md there)
# run-in.sh - run a command inside a container started by boot.sh, like an operator's
# root shell in it would: all of the container's namespaces (mount, PID, net, UTS, IPC,
# cgroup), its root directory, a clean environment, and the container's capability
# bounding set (nsenter alone would keep the HOST's full set: things that fail for the
# container's services, e.g. adding an address without CAP_NET_ADMIN, would then work).
# stdin/stdout/stderr pass through; the exit status is the command's own.
#
# usage: run-in.sh NAME CMD [ARGS...]
#   run-in.sh NAME sh -c 'systemctl start heartbeat && systemctl status heartbeat'
#   run-in.sh NAME sh -c 'cat > /etc/ha.d/ha.cf' < ha.cf
#   RUN_IN_UNIT=1 run-in.sh NAME CMD...   run CMD as a transient service of the container's
#       systemd instead (systemd-run --wait --pipe): its own cgroup, seccomp filter and
#       service environment, exactly like a unit; a little slower (~+40 ms)
# Exit status 125: no such container. Put a `timeout` around calls that may hang
# (e.g. `systemctl stop heartbeat` while heartbeat is stuck in a resource transition).
set -uo pipefail
name=${1:?usage: run-in.sh NAME CMD [ARGS...]}; shift
[ $# -gt 0 ] || { echo "usage: run-in.sh NAME CMD [ARGS...]" >&2; exit 125; }
pid=$(cat "/run/debian-boot/$name/leader.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null \
    || { echo "run-in.sh: container $name is not running" >&2; exit 125; }
bnd=$(awk '/^CapBnd:/{print $2}' "/proc/$pid/status")
caps=-all
for i in $(seq 0 63); do (( (0x$bnd >> i) & 1 )) && caps="$caps,+cap_$i"; done
ENV=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
     HOME=/root USER=root LOGNAME=root SHELL=/bin/bash TERM=dumb LANG=C.UTF-8
     SYSTEMD_PAGER= SYSTEMD_COLORS=0)
if [ "${RUN_IN_UNIT:-0}" = 1 ]; then
    exec nsenter -t "$pid" -a -r -w -- "${ENV[@]}" systemd-run --quiet --wait --pipe \
        --collect --service-type=exec -- "$@"
fi
exec nsenter -t "$pid" -a -r -w -- setpriv --bounding-set="$caps" --inh-caps=-all -- \
    "${ENV[@]}" "$@"
