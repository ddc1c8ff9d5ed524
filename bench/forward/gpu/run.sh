#!/usr/bin/env bash
# On an NVIDIA GPU machine (no Node, no network), from the repository root, with the folders that
# bench/forward/gpu/prepare.sh builds. Usage: bash .gpu/run.sh STAGE…, each stage under 10 minutes (time limits below):
#   tests  the WebGPU test cases against transformers/torch on this GPU, the memory model against the device's bytes
#   8b     bench/forward/sizes.ts, Llama-3.1-8B's shape in bf16 over 512 new tokens at batch 1 and 32, each against
#          PyTorch CUDA bf16 (transformers generate) in the same run
#   tile   the 8B's bf16 shape at batch 1 and 32 over 128 new tokens with the 32-row tiled linears (--tiled-from 16),
#          then with the GEMV (the default), in the same run: prefill and decode tok/s of each
#   large  Gemma-2-27B in bf16 (against PyTorch too) and Llama-3.1-70B's shape in FP8, 512 new tokens
# Needs python3 with torch and transformers there. Each step has its own time limit and writes under $OUT as it goes.
# Measured on an H200 (2026-12-04): making the 8B's bf16 weights and compiling the shaders takes about 33 s, the
# test cases about 60 s.
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
for f in .gpu/gl/*.deb; do dpkg -x "$f" /; done
ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd
mkdir -p /tmp/node && xz -dc .gpu/node.xz > /tmp/node/node && chmod +x /tmp/node/node
export PATH=/tmp/node:$PATH
mkdir -p node_modules && tar xzf .gpu/webgpu.tgz -C node_modules
# test/support/cli.ts resolves tsx's loader when imported; the bundled tests that would spawn it are not run here
mkdir -p node_modules/tsx && echo '{"name":"tsx","exports":"./index.js"}' >node_modules/tsx/package.json
touch node_modules/tsx/index.js
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
# Vulkan (NVIDIA's ICD, through the carried loader and libglvnd); else NVIDIA's EGL under Dawn's OpenGL backend.
export ESR_TEST_WEBGPU_ADAPTER=vulkan
if ! node .gpu/probe.mjs vulkan 2>/dev/null; then
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  node .gpu/probe.mjs opengl 2>&1 | grep -v artificially | tail -3 && export ESR_TEST_WEBGPU_ADAPTER=opengl
fi
tests() { # bundled node:test file, time limit, output name; prints the test lines and the summary
  timeout "$2" node --test-name-pattern="/^webgpu: (?!analyze)/" "$1" 2>&1 | grep -vE "^ +(duration_ms|\.\.\.|---)|^# Subtest" |
    tee "$OUT/$3.txt" | grep -E "^(not )?ok|^# (tests|pass|fail)|rror"
}
sizes() { # time limit, output name, then bench/forward/sizes.ts arguments
  local limit=$1 name=$2
  shift 2
  echo "== bench/forward/sizes.ts $*"
  timeout "$limit" node bench/.gpu/sizes.mjs --backend webgpu --prompt 128 --steps 512 "$@" 2>&1 | tee "$OUT/$name.txt"
}
for stage in "$@"; do
  case $stage in
  tests)
    echo "== the WebGPU test cases (transformers/torch references) on this GPU"
    tests test/.gpu/webgpu.test.mjs 150 correctness
    echo "== the memory model against the device's byte counts"
    tests test/.gpu/memory-webgpu.test.mjs 30 memory-model
    ;;
  8b)
    sizes 140 sizes-8b-b1 --dtype bf16 --batch 1 --torch-device cuda Llama-3.1-8B
    sizes 210 sizes-8b-b32 --dtype bf16 --batch 32 --torch-device cuda Llama-3.1-8B
    ;;
  tile)
    for rows in 16 default; do
      tiled=(--tiled-from "$rows") && [ "$rows" = default ] && tiled=()
      sizes 120 "sizes-8b-b1-$rows" "${tiled[@]}" --steps 128 --dtype bf16 --batch 1 Llama-3.1-8B
      sizes 120 "sizes-8b-b32-$rows" "${tiled[@]}" --steps 128 --dtype bf16 --batch 32 Llama-3.1-8B
    done
    ;;
  large)
    sizes 240 sizes-27b --dtype bf16 --batch 1 --torch-device cuda Gemma-2-27B
    sizes 300 sizes-70b --dtype fp8 --batch 1 Llama-3.1-70B
    ;;
  *) echo "unknown stage $stage: tests, 8b, tile or large" >&2 && exit 2 ;;
  esac
done
