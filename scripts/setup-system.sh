#!/usr/bin/env bash
# `npm run setup:system`: the system packages some tests need, installed only when missing (Debian/Ubuntu,
# apt-get, as root or through sudo). `npm test` itself installs nothing: without these the tests that
# need them skip and say why.
#   chromium                                    report test (headless rendering of report.html), scripts/screenshot-report.ts
#   python3-nbclient                            notebooks test (Jupyter's nbclient runs the notebooks headless)
#   libegl1 libegl-mesa0 libgl1-mesa-dri        WebGPU tests on machines without a GPU (Mesa's software OpenGL)
# and the notebooks' tslab kernel package (npm ci --prefix notebooks/kernel).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
has_nbclient() { "$1" -c 'import nbclient, nbformat, jupyter_client' 2>/dev/null; }
has_nbclient python3 || has_nbclient /usr/bin/python3 || missing+=(python3-nbclient)
for pkg in libegl1 libegl-mesa0 libgl1-mesa-dri; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup:system: missing ${missing[*]}, and there is no apt-get here: install them with your package manager" >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "setup:system: missing ${missing[*]}; not root and no sudo: run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup:system: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup:system: chromium, python3-nbclient and Mesa (libegl1 libegl-mesa0 libgl1-mesa-dri) already installed"
fi

if [ ! -f notebooks/kernel/node_modules/tslab/package.json ]; then
  echo "setup:system: installing the notebooks' tslab kernel (npm ci --prefix notebooks/kernel)"
  npm ci --prefix notebooks/kernel --no-audit --no-fund
fi
