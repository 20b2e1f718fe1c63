#!/usr/bin/env bash
# The Debian (or Ubuntu) packages Pledgeline needs, installed when any is missing.
#
#   scripts/debian_packages.sh run    what `make run` needs: WeasyPrint's libraries and the PDF font
#   scripts/debian_packages.sh test   the same, and Chromium and poppler-utils for the tests
#   scripts/debian_packages.sh bench  the same as run, and wrk for make bench's HTTP figures
#
# One dpkg-query call checks them all, so a machine that has them pays a few milliseconds and a
# package removed since the last run is noticed at once. Missing packages are installed with
# apt-get as root, or through `sudo -n` when that works without a password; otherwise the script
# stops and prints the one command to run. The Makefile passes PYTHON and VENV: before the virtual
# environment exists, Debian's pythonX.Y-venv is needed when the interpreter has no ensurepip.
set -euo pipefail

runtime=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-liberation2)
# The browser tests drive /usr/bin/chromium unless CHROMIUM names another; they read PDFs with pdftotext.
for_tests=(poppler-utils)

case "${1:-}" in
  run) wanted=("${runtime[@]}") ;;
  test)
    wanted=("${runtime[@]}" "${for_tests[@]}")
    [[ -n ${CHROMIUM:-} && -x ${CHROMIUM} ]] || wanted+=(chromium)
    ;;
  bench) wanted=("${runtime[@]}" wrk) ;;
  *)
    echo "usage: $0 run|test|bench" >&2
    exit 2
    ;;
esac

python=${PYTHON:-python3}
if [[ ! -x ${VENV:-.venv}/bin/python ]]; then
  if ! command -v "$python" >/dev/null; then
    # A minimal Debian or Ubuntu has no Python at all; its python3 is new enough on Debian 12+ and Ubuntu 24.04+.
    [[ $python != python3 ]] || wanted+=(python3 python3-venv)
  elif ! "$python" -c 'import ensurepip' 2>/dev/null; then
    version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    wanted+=("python$version-venv")
  fi
fi

if ! command -v dpkg-query >/dev/null; then
  echo "Not a Debian or Ubuntu system: make sure these (or your system's equivalents) are installed: ${wanted[*]}" >&2
  exit 0
fi

missing() {
  local -A installed=()
  local name status
  # Unknown packages are reported on stderr and make dpkg-query exit 1: they are simply missing.
  while read -r name status; do
    [[ $status == ii ]] && installed[$name]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${wanted[@]}" 2>/dev/null || true)
  local pkg
  for pkg in "${wanted[@]}"; do
    [[ -n ${installed[$pkg]:-} ]] || printf '%s\n' "$pkg"
  done
}

mapfile -t absent < <(missing)
((${#absent[@]})) || exit 0

if [[ $(id -u) == 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  {
    echo "Pledgeline needs these Debian packages, which are not installed: ${absent[*]}"
    echo "Install them with this command, then run make again:"
    echo
    echo "    sudo apt-get install ${absent[*]}"
    echo
  } >&2
  exit 1
fi

echo "Installing Debian packages: ${absent[*]}"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${absent[@]}"

mapfile -t absent < <(missing)
if ((${#absent[@]})); then
  echo "These Debian packages are still not installed: ${absent[*]}" >&2
  exit 1
fi
