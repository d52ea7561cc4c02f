#!/bin/bash
# tools/debian-boot/boot.sh (from ../shared/reference/debian-boot, REPORT.md there)
# boot.sh - boot / stop a throw-away Debian 12 container with systemd as PID 1
# (systemd-nspawn, no host systemd/machined needed), from the tarball of make-rootfs.sh.
#
# usage:
#   boot.sh start NAME [-r ROOTFS.tar] [-n NETNS] [-c DIR] [-t SECS] [-- NSPAWN-ARGS...]
#       Unpacks ROOTFS.tar once into a shared read-only base tree (cached next to the
#       tarball), mounts a per-container overlayfs on top (writable, thrown away on stop),
#       copies DIR's contents over the root if -c DIR is given (e.g. DIR/etc/ha.d/ha.cf),
#       boots it in the background and returns once `systemctl is-system-running --wait`
#       answers (prints that state: running or degraded; exit 1 if neither).
#       -n NETNS: join the existing network namespace /run/netns/NETNS (set it up, with
#       its interfaces and addresses, before); default: --private-network (only lo).
#       The hostname is NAME (heartbeat's `node` name). Default -r:
#       /var/cache/debian-boot/bookworm-systemd.tar ; -t default 120.
#   boot.sh stop NAME [-t SECS]   clean poweroff (SIGRTMIN+4 to the container's systemd),
#                                 wait for nspawn to exit, remove overlay/cgroups/state
#   boot.sh kill NAME [-t SECS]   power cut: SIGKILL the container's PID 1, then clean up
#                                 (after SECS, default 15: SIGKILL all of its cgroup, nspawn too)
#   boot.sh pid NAME              host PID of the container's systemd (for nsenter)
#   boot.sh root NAME             host path of the container's root (overlay mount)
#   boot.sh list
# Run commands inside with run-in.sh NAME CMD... . State: /run/debian-boot/NAME
# (console.log = the container's console output), overlay upper: /var/tmp/debian-boot.
# Needs root, util-linux (nsenter, flock), systemd-container (installed if missing, same
# version as the host's systemd). Works without systemd on the host (PID 1 here is not
# systemd): --register=no --keep-unit, and the container gets a cgroup made by this script.
# Extra capabilities over nspawn's default set: CAP_IPC_LOCK always, CAP_NET_ADMIN with -n.
set -euo pipefail

STATE_BASE=/run/debian-boot
UPPER_BASE=/var/tmp/debian-boot
CG_NAME=debian-boot
DEFAULT_ROOTFS=/var/cache/debian-boot/bookworm-systemd.tar
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "boot.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
[ "$(id -u)" = 0 ] || die "must run as root"

cmd=${1:-}; name=${2:-}
[ -n "$cmd" ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 2; }
if [ "$cmd" = list ]; then ls "$STATE_BASE" 2>/dev/null || true; exit 0; fi
[ -n "$name" ] || die "usage: boot.sh $cmd NAME"
case $name in *[!a-zA-Z0-9-]*|-*) die "NAME must be [a-zA-Z0-9-]" ;; esac
shift 2
S=$STATE_BASE/$name

leader() { cat "$S/leader.pid" 2>/dev/null || die "$name is not running"; }

# cgroup dirs that hold the container (nspawn --keep-unit uses the cgroup it runs in):
# name=systemd + the v2 tree on a hybrid host (as here), the v2 root on a pure-v2 host.
# Other v1 controllers are left alone (a fresh v1 cpuset group refuses tasks: ENOSPC).
cg_dirs() {
    if [ -e /sys/fs/cgroup/cgroup.controllers ]; then echo "/sys/fs/cgroup/$CG_NAME/$name"
    else
        [ -e /sys/fs/cgroup/systemd/cgroup.procs ] && echo "/sys/fs/cgroup/systemd/$CG_NAME/$name"
        [ -e /sys/fs/cgroup/unified/cgroup.procs ] && echo "/sys/fs/cgroup/unified/$CG_NAME/$name"
    fi
    return 0
}

cg_procs() {   # the pids in the container's cgroup and its children (nspawn, launcher, inside)
    { find "$(cg_dirs | head -n1)" -name cgroup.procs -exec cat {} + 2>/dev/null || true; } | sort -un
}

cleanup() {   # after nspawn has exited
    if mountpoint -q "$S/root" 2>/dev/null; then umount "$S/root" || umount -l "$S/root"; fi
    rm -rf "$UPPER_BASE/$name"
    for d in $(cg_dirs); do
        [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        rmdir "$(dirname "$d")" 2>/dev/null || true
    done
    rm -rf "$S"
    rmdir "$UPPER_BASE" "$STATE_BASE" 2>/dev/null || true   # only if no other container
}

# running: not a zombie. The launcher is an orphan once `boot.sh start` has returned, and who
# reaps it is the host's PID 1 or nearest subreaper: here a sandbox init that left it a zombie
# for over 60 s (fresh run 40: kill -0 said "alive" and make test's teardown timed out)
running() {
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Za-z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

wait_exit() {   # wait for the nspawn process to go away, up to $1 s
    local p end; p=$(cat "$S/nspawn.pid" 2>/dev/null) || return 0
    end=$(( $(date +%s) + $1 ))
    while running "$p"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

case $cmd in
pid)  leader; exit ;;
root) echo "$S/root"; exit ;;
stop|kill)
    [ -d "$S" ] || die "$name is not running"
    # kill: the PID namespace dies with its PID 1, nspawn exits in 1-4 s; a longer wait says
    # something inside is stuck (make test, fresh run 40: still there after 60 s)
    T=60; [ "$cmd" = kill ] && T=15
    [ "${1:-}" = -t ] && T=$2
    t0=$(now)
    if [ "$cmd" = stop ]; then
        kill -s RTMIN+4 "$(leader)" 2>/dev/null || true   # systemd: start poweroff.target
    else
        kill -s KILL "$(leader)" 2>/dev/null || true      # whole PID namespace dies at once
    fi
    if ! wait_exit "$T"; then
        echo "boot.sh: $name did not stop within $T s; killing every process of its cgroup:" >&2
        procs=$(cg_procs)
        # shellcheck disable=SC2086
        [ -n "$procs" ] && ps -o pid,stat,wchan:24,etime,args -p "$(echo $procs | tr ' ' ,)" >&2 || true
        for p in $procs; do kill -s KILL "$p" 2>/dev/null || true; done   # nspawn included
        wait_exit 10 || echo "boot.sh: $name: its launcher is still there after 10 s more" >&2
    fi
    rc=$(cat "$S/nspawn.rc" 2>/dev/null || echo '?')
    cleanup
    echo "boot.sh: $name $cmd: gone after $(since "$t0") s (nspawn rc=$rc)" >&2
    exit 0 ;;
start) ;;
*) die "unknown command $cmd" ;;
esac

# ------------------------------------------------------------------ start
ROOTFS=$DEFAULT_ROOTFS NETNS= COPY= T=120
while [ $# -gt 0 ]; do
    case $1 in
        -r) ROOTFS=$2; shift 2 ;;
        -n) NETNS=$2; shift 2 ;;
        -c) COPY=$2; shift 2 ;;
        -t) T=$2; shift 2 ;;
        --) shift; break ;;
        *) die "unknown option $1" ;;
    esac
done
[ -d "$S" ] && die "$name already exists (boot.sh stop $name)"
[ -s "$ROOTFS" ] || die "no rootfs tarball $ROOTFS (run make-rootfs.sh)"
command -v systemd-nspawn >/dev/null || {
    # the host's systemd version exactly: the newest systemd-container would upgrade the
    # host's systemd (it depends on it =version); never fall back to it
    v=$(dpkg-query -W -f='${Version}' systemd 2>/dev/null) || die "no systemd package on this host"
    "$(dirname "$0")/../apt-install" "systemd-container=$v" >&2 ||
        die "systemd-container $v (the host's systemd version) cannot be installed"
}
if [ -n "$NETNS" ]; then [ -e "/run/netns/$NETNS" ] || die "no netns /run/netns/$NETNS"
    # nspawn keeps CAP_NET_ADMIN only for --private-network/--network-veth etc., not for
    # --network-namespace-path: without it heartbeat's IPaddr cannot add the VIP (rc=255)
    NETARGS=(--network-namespace-path="/run/netns/$NETNS" --capability=CAP_NET_ADMIN)
else NETARGS=(--private-network); fi

t0=$(now)
# 1. shared base tree, unpacked once per tarball (keyed by its mtime+size), under a lock
key=$(stat -c '%Y-%s' "$ROOTFS")
BASE=${ROOTFS%.tar*}.base.$key
exec 9>"${ROOTFS%.tar*}.lock"
flock 9
if [ ! -d "$BASE" ]; then
    for old in "${ROOTFS%.tar*}".base.*; do   # older unpacked versions no container uses
        [ -d "$old" ] && ! grep -q "lowerdir=$old[,:]" /proc/mounts && rm -rf "$old"
    done
    mkdir "$BASE.tmp"
    tar --numeric-owner --xattrs --xattrs-include='*' -xpf "$ROOTFS" -C "$BASE.tmp"
    mv "$BASE.tmp" "$BASE"
    echo "boot.sh: unpacked $ROOTFS in $(since "$t0") s" >&2
fi
flock -u 9; exec 9>&-

# 2. per-container writable overlay
mkdir -p "$S/root" "$UPPER_BASE/$name/upper" "$UPPER_BASE/$name/work"
mount -t overlay overlay \
    -o "lowerdir=$BASE,upperdir=$UPPER_BASE/$name/upper,workdir=$UPPER_BASE/$name/work" "$S/root"
[ -n "$COPY" ] && cp -a "$COPY/." "$S/root/"

# 3. a cgroup of its own (there is no host systemd to make a scope), then nspawn.
#    --register=no: no machined; --keep-unit: no transient scope (both need host systemd).
#    CAP_IPC_LOCK: not in nspawn's default set; heartbeat mlock()s itself as on a real host.
for d in $(cg_dirs); do mkdir -p "$d"; done
(
    for d in $(cg_dirs); do echo "$BASHPID" > "$d/cgroup.procs"; done
    rc=0
    systemd-nspawn --quiet --boot --directory="$S/root" --machine="$name" \
        --register=no --keep-unit "${NETARGS[@]}" --console=read-only \
        --link-journal=no --resolv-conf=off --capability=CAP_IPC_LOCK "$@" || rc=$?
    echo "$rc" > "$S/nspawn.rc"
) </dev/null >"$S/console.log" 2>&1 &
nspawn=$!             # the launcher subshell; it ends right after nspawn
echo "$nspawn" > "$S/nspawn.pid"

fail() {   # boot went wrong: show the console, kill what we started, clean up
    echo "boot.sh: $name: $*" >&2
    tail -n 30 "$S/console.log" >&2 2>/dev/null || true
    [ -n "${lp:-}" ] && kill -s KILL "$lp" 2>/dev/null
    wait_exit 10 || kill -s KILL "$nspawn" 2>/dev/null || true
    cleanup; exit 1
}

# 4. the container's PID 1 = the process of our cgroup whose PID inside its namespace is 1
end=$(( $(date +%s) + T ))
lp=
while [ -z "$lp" ]; do
    kill -0 "$nspawn" 2>/dev/null || fail "systemd-nspawn exited"
    [ "$(date +%s)" -lt "$end" ] || fail "no container PID 1 after $T s"
    for p in $(cg_procs); do
        if awk '/^NSpid:/{exit !($NF==1 && NF>2)}' "/proc/$p/status" 2>/dev/null; then lp=$p; break; fi
    done
    [ -n "$lp" ] || sleep 0.02
done
echo "$lp" > "$S/leader.pid"

# 5. readiness: systemd's private socket exists -> ask it to wait for the end of boot
while [ ! -S "/proc/$lp/root/run/systemd/private" ]; do
    kill -0 "$lp" 2>/dev/null || fail "container PID 1 died"
    [ "$(date +%s)" -lt "$end" ] || fail "systemd not up after $T s"
    sleep 0.02
done
left=$(( end - $(date +%s) )); [ "$left" -gt 0 ] || left=1
state=$(timeout "$left" nsenter -t "$lp" -a -- /bin/systemctl is-system-running --wait 2>/dev/null) || true
echo "boot.sh: $name booted ($state) in $(since "$t0") s, PID 1 = host PID $lp" >&2
echo "$state"
case $state in running|degraded) exit 0 ;; *) exit 1 ;; esac
