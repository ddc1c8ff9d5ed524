#!/usr/bin/env bash
# Mesa's EGL/OpenGL (llvmpipe) from Debian: the software WebGPU adapter that test/webgpu.test.ts runs on
# (`--backend webgpu --webgpu-adapter opengl`). A part of `npm run setup:system`; installs only what is
# missing, and only when run (the tests never install anything: without Mesa they skip, saying why).
set -euo pipefail
PACKAGES=(libegl1 libegl-mesa0 libgl1-mesa-dri)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "mesa: ${PACKAGES[*]} already installed"
  exit 0
fi
SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "mesa: installed ${missing[*]}"
