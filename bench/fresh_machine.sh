#!/usr/bin/env bash
# The README's two commands on a fresh machine: a Debian 12 chroot with Python 3.11, pip, make and
# git and nothing else from apt (no libsndfile, FFmpeg, sox or Chromium), a clean clone of this
# checkout's HEAD, then `make demo` (and `git status`, which must be clean) and `make test`, timed.
#
#   sudo bash bench/fresh_machine.sh [ROOT]          # ROOT defaults to /var/tmp/gra-fresh-root
#   MAKE_ENV="NUMBA_CPU_NAME=znver4" sudo -E bash bench/fresh_machine.sh   # test for AMD Zen 4
#   STEPS="make demo;git status --short" ...         # other steps (;-separated)
#
# Needs root, debootstrap (apt-get install debootstrap) and Debian's and PyPI's servers. Where
# pip is configured with a wheel folder (find-links) holding torch's CPU build, the chroot uses
# that folder instead of PyTorch's index; a CA in /usr/local/share/ca-certificates (a proxy's)
# is trusted inside too. Output: the log of each command under ROOT/../gra-fresh-logs/.
set -euo pipefail
REPO=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
ROOT=${1:-/var/tmp/gra-fresh-root}
LOGS=$(dirname "$ROOT")/gra-fresh-logs
SHARED=$(cd "$REPO/.." && pwd)/shared
WHEELS=$(python3 -m pip config get global.find-links 2>/dev/null || true)
mkdir -p "$LOGS"

if [ ! -x "$ROOT/usr/bin/python3" ]; then
  debootstrap --variant=minbase bookworm "$ROOT" http://deb.debian.org/debian
  cp -fL /etc/resolv.conf "$ROOT/etc/resolv.conf"
  # what Debian's installer writes (debootstrap does not): `localhost` resolves
  printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$ROOT/etc/hosts"
  chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends python3 \
      python3-venv python3-pip make git ca-certificates && apt-get clean'
fi
if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then  # a proxy's CA
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin update-ca-certificates > /dev/null
fi
[ -n "$WHEELS" ] && printf '[global]\nfind-links = /opt/wheels\n' > "$ROOT/etc/pip.conf"

# /proc, /dev and shared/ (beside the clone, as CI has it), unmounted on exit.
mounts=()
bind() { mkdir -p "$ROOT$2"; mount --bind "$1" "$ROOT$2"; mounts=("$ROOT$2" "${mounts[@]}"); }
trap 'for m in "${mounts[@]}"; do umount -l "$m"; done' EXIT
mount -t proc proc "$ROOT/proc" && mounts=("$ROOT/proc")
bind /dev /dev
bind /dev/pts /dev/pts
bind /dev/shm /dev/shm
bind /sys /sys
[ -d "$SHARED" ] && bind "$SHARED" /work/shared
[ -n "$WHEELS" ] && bind "$WHEELS" /opt/wheels
cp -fL /etc/resolv.conf "$ROOT/etc/resolv.conf"

rm -rf "$ROOT/work/main" && git clone -q "$REPO" "$ROOT/work/main"
run() {  # a clean environment, as a user's login shell would have it
  chroot "$ROOT" env -i HOME=/root LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin \
    ${MAKE_ENV:-} bash -c "cd /work/main && $1"
}
echo "system libraries: $(run 'python3 -c "import ctypes.util as u; print([u.find_library(n) for n in (\"sndfile\", \"avcodec\", \"sox\")])"')"
IFS=';' read -r -a steps <<< "${STEPS:-make demo;git status --short;make test}"
for step in "${steps[@]}"; do
  log="$LOGS/$(echo "$step" | tr -c 'a-z0-9\n' '-').log"
  start=$(date +%s)
  run "$step" > "$log" 2>&1 && rc=0 || rc=$?
  echo "$step: exit $rc, $(( $(date +%s) - start )) s; last lines:"
  tail -n 3 "$log"
  [[ $step == git\ status* && ! -s $log ]] && echo "(clean)"
done
