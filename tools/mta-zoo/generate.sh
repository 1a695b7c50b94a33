#!/bin/sh
# Generates the MTA zoo: genuine bounces written by the real MTAs of the
# running Debian release (see tools/mta-zoo/README.md).
#   tools/mta-zoo/generate.sh [--mtas postfix,exim,...] [--only CASE,...] [--fast]
# Needs root (network, mount and PID namespaces; MTAs bind port 25 and
# change user), Debian's archive (apt-get download), /usr/bin/python3 with
# python3-aiosmtpd and python3-dnslib, and the installed postfix.
#   ZOO_CACHE  where the packages are downloaded and unpacked
#              (default build/mta-zoo/cache)
#   ZOO_OUT    where the fixtures go (default spec/fixtures/mta-zoo)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${ZOO_CACHE:-$ROOT/build/mta-zoo/cache}
OUT=${ZOO_OUT:-$ROOT/spec/fixtures/mta-zoo}
PY=/usr/bin/python3

die() { echo "generate.sh: $*" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "needs root: it runs the MTAs in private namespaces"
command -v unshare >/dev/null || die "unshare (util-linux) is missing"
command -v ip >/dev/null || die "ip (iproute2) is missing"
command -v postfix >/dev/null || die "postfix is not installed (see TOOLCHAIN.md)"
$PY -c 'import aiosmtpd, dnslib' 2>/dev/null ||
  die "$PY lacks aiosmtpd or dnslib: apt-get install python3-aiosmtpd python3-dnslib"

MTAS=postfix,exim,sendmail,opensmtpd,dma,courier,nullmailer
prev=
for a in "$@"; do
  [ "$prev" = --mtas ] && MTAS=$a
  case $a in --mtas=*) MTAS=${a#--mtas=} ;; esac
  prev=$a
done

# The programs of each MTA whose shared libraries must all be found.
programs() {
  case $1 in
    exim) echo usr/sbin/exim4 ;;
    sendmail) echo usr/libexec/sendmail/sendmail usr/bin/m4 ;;
    opensmtpd) echo usr/sbin/smtpd ;;
    dma) echo usr/sbin/dma ;;
    courier) echo usr/lib/courier/courier/courierd usr/sbin/courieresmtpd usr/sbin/couriertcpd ;;
    nullmailer) echo usr/sbin/nullmailer-send usr/sbin/nullmailer-queue ;;
  esac
}

# The Debian packages each MTA's files come from (postfix is the system's).
packages() {
  case $1 in
    exim) echo exim4-daemon-light libidn12 ;;
    sendmail) echo sendmail-bin sendmail-cf m4 libwrap0 ;;
    opensmtpd) echo opensmtpd ;;
    dma) echo dma ;;
    courier) echo courier-mta courier-base courier-authlib libcourier-unicode4 libidn12 libgamin0 ;;
    nullmailer) echo nullmailer ;;
  esac
}

mkdir -p "$CACHE/debs" "$CACHE/root"
for mta in $(echo "$MTAS" | tr , ' '); do
  pkgs=$(packages "$mta")
  [ -n "$pkgs" ] || continue
  root=$CACHE/root/$mta
  [ -f "$root/.versions/done" ] && continue
  for p in $pkgs; do
    if ! ls "$CACHE/debs/${p}_"*.deb >/dev/null 2>&1; then
      (cd "$CACHE/debs" && apt-get download "$p" 2>/dev/null) ||
        die "apt-get download $p failed (apt-get update first?)"
    fi
  done
  rm -rf "$root" && mkdir -p "$root/.versions"
  for p in $pkgs; do
    deb=$(ls "$CACHE/debs/${p}_"*.deb | tail -n 1)
    dpkg -x "$deb" "$root"
    dpkg-deb -f "$deb" Version >"$root/.versions/$p"
  done
  libs=$root/usr/lib/x86_64-linux-gnu:$root/usr/lib:$root/lib/x86_64-linux-gnu
  for prog in $(programs "$mta"); do
    [ -e "$root/$prog" ] || die "$mta: $prog is not in $pkgs"
    missing=$(LD_LIBRARY_PATH=$libs ldd "$root/$prog" 2>/dev/null | awk '/not found/ {print $1}')
    [ -z "$missing" ] || die "$mta: $prog needs $missing: add its package to packages() here"
  done
  touch "$root/.versions/done"
  echo "generate.sh: $mta: $pkgs unpacked in $root"
done

mkdir -p "$OUT" "$ROOT/build/mta-zoo/logs"
OUT=$(cd "$OUT" && pwd)
CACHE=$(cd "$CACHE" && pwd)
# the work folder: a private tmpfs is mounted on it inside the namespaces
WORK=$(mktemp -d /tmp/mta-zoo.XXXXXX)
chmod 755 "$WORK"
trap 'rmdir "$WORK" 2>/dev/null || true' EXIT INT TERM
cd "$HERE"
unshare --mount --net --pid --fork --mount-proc --propagation private \
  $PY -B "$HERE/zoo.py" --out "$OUT" --cache "$CACHE" --work "$WORK" \
  --logs "$ROOT/build/mta-zoo/logs" "$@"
