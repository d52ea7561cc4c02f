"""The OCF resource agent ``ocf:lvs-compat:lvs``: the IPVS table from mon.cf, under Pacemaker.

``lvs-compat export pacemaker`` writes it beside the CIB (install it as
``/usr/lib/ocf/resource.d/lvs-compat/lvs``, mode 755, on every node).  It is a thin OCF shell
around lvs-compat's resource script ``lvs`` (``lvs_compat/resources/lvs.py``, installed in
/etc/ha.d/resource.d by ``make install``), which builds the virtual services and real servers
of mon.cf's ``upalert lvs.alert`` lines on start, deletes them on stop, and answers status with
0 (running) or 3 (stopped): OCF's monitor wants 0 or 7, which is all this shell adds, with the
meta-data Pacemaker reads.  mon keeps checking the real servers and lvs.alert keeps editing
the table (``lsb:mon`` after it in the group).  Checked with resource-agents' ``ocf-tester``
(tests/test_export_ocf_agent.py).
"""

AGENT_FILE = "ocf-lvs-compat-lvs"
AGENT_INSTALL_PATH = "/usr/lib/ocf/resource.d/lvs-compat/lvs"
DEFAULT_LVS_SCRIPT = "/etc/ha.d/resource.d/lvs"
DEFAULT_MON_CF = "/etc/mon/mon.cf"

AGENT = r'''#!/bin/sh
# ocf:lvs-compat:lvs - the IPVS table of mon.cf's lvs.alert lines (lvs-compat).
# Install as /usr/lib/ocf/resource.d/lvs-compat/lvs (mode 755) on every node.
: "${OCF_ROOT:=/usr/lib/ocf}"
: "${OCF_FUNCTIONS_DIR:=${OCF_ROOT}/lib/heartbeat}"
. "${OCF_FUNCTIONS_DIR}/ocf-shellfuncs"

: "${OCF_RESKEY_mon_cf:=@MON_CF@}"
: "${OCF_RESKEY_lvs_script:=@LVS_SCRIPT@}"
[ -n "${OCF_RESKEY_ipvsadm:-}" ] && export IPVSADM="$OCF_RESKEY_ipvsadm"
[ -n "${OCF_RESKEY_run_dir:-}" ] && export LVS_COMPAT_RUN_DIR="$OCF_RESKEY_run_dir"

meta_data() {
    cat <<END
<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="lvs" version="1.0">
<version>1.0</version>
<longdesc lang="en">Builds the IPVS virtual services and real servers that the upalert lvs.alert lines of mon.cf describe (lvs-compat's resource script lvs), and deletes them on stop. mon and lvs.alert keep the table up to date while it runs.</longdesc>
<shortdesc lang="en">IPVS table from mon.cf (lvs-compat)</shortdesc>
<parameters>
<parameter name="mon_cf" unique="0" required="0">
<longdesc lang="en">mon configuration file whose lvs.alert lines describe the table</longdesc>
<shortdesc lang="en">mon.cf path</shortdesc>
<content type="string" default="@MON_CF@"/>
</parameter>
<parameter name="lvs_script" unique="0" required="0">
<longdesc lang="en">lvs-compat's lvs resource script</longdesc>
<shortdesc lang="en">lvs script</shortdesc>
<content type="string" default="@LVS_SCRIPT@"/>
</parameter>
<parameter name="ipvsadm" unique="0" required="0">
<longdesc lang="en">ipvsadm binary (default: /sbin/ipvsadm)</longdesc>
<shortdesc lang="en">ipvsadm</shortdesc>
<content type="string" default=""/>
</parameter>
<parameter name="run_dir" unique="0" required="0">
<longdesc lang="en">directory for the table lock and the record of what was built (default: /run/lvs-compat)</longdesc>
<shortdesc lang="en">run directory</shortdesc>
<content type="string" default=""/>
</parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" depth="0"/>
<action name="validate-all" timeout="20s"/>
<action name="meta-data" timeout="5s"/>
</actions>
</resource-agent>
END
}

lvs_validate() {
    [ -x "$OCF_RESKEY_lvs_script" ] || { ocf_exit_reason "lvs script $OCF_RESKEY_lvs_script not executable"; return $OCF_ERR_INSTALLED; }
    [ -r "$OCF_RESKEY_mon_cf" ] || { ocf_exit_reason "cannot read mon.cf $OCF_RESKEY_mon_cf"; return $OCF_ERR_CONFIGURED; }
    return $OCF_SUCCESS
}

lvs_monitor() {
    "$OCF_RESKEY_lvs_script" "$OCF_RESKEY_mon_cf" status >/dev/null 2>&1
    case $? in
        0) return $OCF_SUCCESS ;;
        3) return $OCF_NOT_RUNNING ;;
        *) return $OCF_ERR_GENERIC ;;
    esac
}

lvs_start() {
    lvs_validate || return $?
    "$OCF_RESKEY_lvs_script" "$OCF_RESKEY_mon_cf" start || { ocf_exit_reason "lvs start failed"; return $OCF_ERR_GENERIC; }
    lvs_monitor
}

lvs_stop() {
    lvs_monitor
    [ $? -eq $OCF_NOT_RUNNING ] && return $OCF_SUCCESS
    "$OCF_RESKEY_lvs_script" "$OCF_RESKEY_mon_cf" stop || { ocf_exit_reason "lvs stop failed"; return $OCF_ERR_GENERIC; }
    return $OCF_SUCCESS
}

case "$__OCF_ACTION" in
    meta-data) meta_data; exit $OCF_SUCCESS ;;
    usage|help) echo "usage: $0 {start|stop|monitor|validate-all|meta-data}"; exit $OCF_SUCCESS ;;
esac
case "$__OCF_ACTION" in
    start) lvs_start ;;
    stop) lvs_stop ;;
    monitor) lvs_validate || exit $?; lvs_monitor ;;
    validate-all) lvs_validate ;;
    *) echo "usage: $0 {start|stop|monitor|validate-all|meta-data}"; exit $OCF_ERR_UNIMPLEMENTED ;;
esac
exit $?
'''


def agent_text(mon_cf: str = DEFAULT_MON_CF, lvs_script: str = DEFAULT_LVS_SCRIPT) -> str:
    """The agent with its defaults filled in (mon.cf from haresources' ``lvs::PATH``)."""
    return AGENT.replace("@MON_CF@", mon_cf).replace("@LVS_SCRIPT@", lvs_script)
