#!/usr/bin/env bash
# On an NVIDIA GPU machine (no Node, no network), from the repository root, with the folders that
# bench/forward/gpu/prepare.sh builds: the adapter, the WebGPU test cases against transformers on this GPU,
# bench/forward on a Llama-3.2-1B-shaped random model in bf16 against PyTorch CUDA (f32 and bf16) at batch 1 and 32,
# and bench/forward/sizes.ts: the 8B shape over 512 tokens at batch 1 and 32, Gemma-2-27B in bf16, 70B in FP8.
# Needs python3 with torch and transformers there.
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
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
# Vulkan (NVIDIA's ICD, through the carried loader and libglvnd); else NVIDIA's EGL under Dawn's OpenGL backend.
export ESR_TEST_WEBGPU_ADAPTER=vulkan
if ! node .gpu/probe.mjs vulkan 2>/dev/null; then
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  ls /usr/local/nvidia/share/vulkan/icd.d/ /usr/local/nvidia/share/glvnd/egl_vendor.d/ 2>&1 | head -5
  node .gpu/probe.mjs opengl 2>&1 | grep -v artificially | tail -3 && export ESR_TEST_WEBGPU_ADAPTER=opengl
fi
echo "== the WebGPU test cases (transformers/torch references) on this GPU"
timeout 100 node --test-name-pattern="/^webgpu: (?!analyze)/" test/.gpu/webgpu.test.mjs 2>&1 | grep -vE "^ +(duration_ms|\.\.\.|---)|^# Subtest" | tee "$OUT/correctness.txt" | grep -E "^(not )?ok|^# (tests|pass|fail)|webgpu: |rror"
echo "== bench/forward --backend webgpu --size 1b --torch-device cuda --dtype bf16 --batch 32 (dispatches per step, peak bytes)"
timeout 250 node bench/.gpu/forward.mjs --backend webgpu --size 1b --torch-device cuda --python python3 --threads 16 \
  --dtype bf16 --batch 32 --steps 64 2>&1 | tee "$OUT/forward.txt"
echo "== bench/forward/sizes: Llama-3.1-8B shape in bf16, batch 1 and 32, 512 new tokens (memory over the generation)"
timeout 200 node bench/.gpu/sizes.mjs --backend webgpu --dtype bf16 --prompt 128 --steps 512 --batch 1 Llama-3.1-8B 2>&1 | tee "$OUT/sizes-8b-b1.txt"
timeout 200 node bench/.gpu/sizes.mjs --backend webgpu --dtype bf16 --prompt 128 --steps 512 --batch 32 Llama-3.1-8B 2>&1 | tee "$OUT/sizes-8b-b32.txt"
echo "== bench/forward/sizes: Gemma-2-27B in bf16 and Llama-3.1-70B's shape in FP8, 512 new tokens"
timeout 200 node bench/.gpu/sizes.mjs --backend webgpu --dtype bf16 --prompt 128 --steps 512 Gemma-2-27B 2>&1 | tee "$OUT/sizes-27b.txt"
timeout 300 node bench/.gpu/sizes.mjs --backend webgpu --dtype fp8 --prompt 128 --steps 512 Llama-3.1-70B 2>&1 | tee "$OUT/sizes-70b.txt"
