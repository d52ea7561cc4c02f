#!/bin/bash
# tools/debian-boot/make-rootfs.sh (from ../shared/reference/debian-boot, REPORT.md there)
# make-rootfs.sh - build (once) and cache a Debian 12 "bookworm" root file system
# that boots with systemd as PID 1 under systemd-nspawn (see boot.sh).
#
# usage: make-rootfs.sh [-f] [-o OUT.tar[.zst]] [PKG...]
#   -f           rebuild even if OUT exists and was built from the same package list
#   -o OUT       output tarball (default /var/cache/debian-boot/bookworm-systemd.tar);
#                ".tar" = uncompressed (fastest to unpack), ".tar.zst" = zstd
#   PKG...       extra packages on top of the default set below
# Prints the tarball path on stdout. Needs root + bookworm apt sources (only the Debian
# archive is contacted, through the mirrors below). Installs mmdebstrap on the host if
# missing. Env: DEBIAN_MIRROR, DEBIAN_SECURITY (default: the URIs of the host's own
#               apt sources for bookworm and bookworm-security).
#
# The tarball is the cache: boot.sh unpacks it once into a read-only base tree and
# boots every container on an overlayfs on top, so a later test pays ~0 s for it.
# The default set = systemd + dbus + iproute2 + Debian's C heartbeat, mon, ipvsadm,
# plus net-tools (heartbeat's IPaddr resource agent needs ifconfig but does not depend
# on it: without it the VIP never comes up) and netbase, procps, ping. Services installed
# here are enabled the Debian way; heartbeat.service simply fails at boot until an
# /etc/ha.d/ha.cf exists (so it is disabled in the image; tests enable/start it).
set -euo pipefail

FORCE=0
OUT=/var/cache/debian-boot/bookworm-systemd.tar
while getopts fo:h opt; do
    case $opt in
        f) FORCE=1 ;;
        o) OUT=$OPTARG ;;
        h) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0 ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ "$(id -u)" = 0 ] || { echo "make-rootfs.sh: must run as root" >&2; exit 1; }

# the host's own apt sources (deb822 or one-line format), so the image uses what apt uses here
host_uri() {  # host_uri SUITE: the first URI that serves SUITE
    awk -v suite="$1" '
        /^URIs:/ {u=$2} /^Suites:/ {for (i=2;i<=NF;i++) if ($i==suite) {print u; exit}}
        /^deb / {for (i=3;i<=NF;i++) if ($i==suite) {print $2; exit}}' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list 2>/dev/null | head -1
}
MIRROR=${DEBIAN_MIRROR:-$(host_uri bookworm)}
SECURITY=${DEBIAN_SECURITY:-$(host_uri bookworm-security)}
[ -n "$MIRROR" ] || { echo "make-rootfs.sh: no bookworm source in the host's apt sources; set DEBIAN_MIRROR" >&2; exit 1; }
PKGS="systemd systemd-sysv dbus iproute2 heartbeat mon ipvsadm net-tools netbase procps iputils-ping $*"
PKGS=$(echo $PKGS | tr ' ' '\n' | sort -u | tr '\n' ',' | sed 's/,$//')
RECIPE_VERSION=1
STAMP="v$RECIPE_VERSION variant=apt mirror=$MIRROR security=$SECURITY pkgs=$PKGS"

if [ "$FORCE" = 0 ] && [ -s "$OUT" ] && [ "$(cat "$OUT.stamp" 2>/dev/null)" = "$STAMP" ]; then
    echo "$OUT"; exit 0          # cached
fi

# the project's set-up installs these (Makefile DEBS); tools/apt-install is a no-op then
here=$(cd "$(dirname "$0")" && pwd)
command -v mmdebstrap >/dev/null || "$here/../apt-install" mmdebstrap >&2
case $OUT in *.zst) command -v zstd >/dev/null || "$here/../apt-install" zstd >&2 ;; esac

mkdir -p "$(dirname "$OUT")"
TMP="$OUT.tmp.$$${OUT#"${OUT%.tar*}"}"     # keep the .tar/.tar.zst suffix for mmdebstrap
trap 'rm -f "$TMP"' EXIT
t0=$(date +%s.%N)
# --variant=apt: Essential set + apt (smaller than minbase), plus --include.
# Hooks: no /etc/hostname (systemd would override the container name nspawn sets),
# no host resolv.conf, no policy-rc.d (mmdebstrap already removes its own), and
# heartbeat.service disabled (it can't start without /etc/ha.d/ha.cf).
mmdebstrap --quiet --variant=apt --include="$PKGS" \
    --customize-hook='rm -f "$1/etc/hostname" "$1/etc/resolv.conf" "$1/usr/sbin/policy-rc.d"' \
    --customize-hook='chroot "$1" systemctl disable heartbeat.service >/dev/null 2>&1 || true' \
    bookworm "$TMP" \
    "deb $MIRROR bookworm main" \
    "deb $MIRROR bookworm-updates main" \
    ${SECURITY:+"deb $SECURITY bookworm-security main"}
mv -f "$TMP" "$OUT"
echo "$STAMP" > "$OUT.stamp"
trap - EXIT
echo "make-rootfs.sh: built $OUT ($(du -h "$OUT" | cut -f1)) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s" >&2
echo "$OUT"
