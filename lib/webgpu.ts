// The WebGPU backend: Dawn's Node bindings (`webgpu` package) under tfjs-backend-webgpu. Picks a Dawn
// adapter (Vulkan on Linux/NVIDIA/AMD, Metal on macOS, Mesa's OpenGL as the software adapter for CI),
// tells a hardware adapter from a software one, and exposes the device's buffer limits so the model and
// SAE can split tensors that exceed them.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

export type WebgpuAdapterChoice = 'auto' | 'vulkan' | 'opengl' | 'metal';
export const WEBGPU_ADAPTER_CHOICES: WebgpuAdapterChoice[] = ['auto', 'vulkan', 'opengl', 'metal'];

export interface WebgpuDevice {
  /** Dawn's backend: vulkan, opengl, metal, d3d12. */
  api: string;
  /** Adapter description as Dawn reports it (vendor, device, driver). */
  description: string;
  /** llvmpipe, lavapipe, SwiftShader or a fallback adapter: correct but slower than WASM. */
  software: boolean;
  /** Largest buffer one shader binding may see, and largest buffer, in bytes. */
  maxBindingBytes: number;
  maxBufferBytes: number;
  device: GPUDevice;
}

/** Debian packages providing each shared library Dawn's backends load on Linux. */
const LINUX_LIBS: Record<string, { lib: string; pkg: string }[]> = {
  vulkan: [{ lib: 'libvulkan.so.1', pkg: 'libvulkan1' }],
  opengl: [
    { lib: 'libEGL.so.1', pkg: 'libegl1' },
    { lib: 'libEGL_mesa.so.0', pkg: 'libegl-mesa0' },
    { lib: 'swrast_dri.so', pkg: 'libgl1-mesa-dri' },
  ],
};

let ldCache: string | null = null;
/** Whether the dynamic linker can find a library (ldconfig's cache, or Mesa's DRI driver folder). */
function hasLib(lib: string): boolean {
  if (lib.endsWith('_dri.so'))
    return ['/usr/lib/x86_64-linux-gnu/dri', '/usr/lib/aarch64-linux-gnu/dri', '/usr/lib/dri', '/usr/lib64/dri'].some(
      (d) => existsSync(`${d}/${lib}`),
    );
  if (ldCache === null) {
    try {
      ldCache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      ldCache = '';
    }
  }
  return ldCache.includes(`${lib} `);
}

function missingLibs(api: string): { lib: string; pkg: string }[] {
  if (process.platform !== 'linux') return [];
  return (LINUX_LIBS[api] ?? []).filter((l) => !hasLib(l.lib));
}

/** The Dawn backends to try for a choice, in order. `auto` on Linux tries Vulkan (hardware GPUs), then Mesa's OpenGL. */
function apisFor(choice: WebgpuAdapterChoice, hardwareOnly: boolean): string[] {
  if (choice !== 'auto') return [choice];
  if (process.platform === 'darwin') return ['metal'];
  if (process.platform === 'win32') return ['d3d12', 'vulkan'];
  return hardwareOnly ? ['vulkan'] : ['vulkan', 'opengl'];
}

function isSoftware(info: GPUAdapterInfo): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return (
    (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
    /llvmpipe|lavapipe|softpipe|swiftshader/i.test(text)
  );
}

function describeAdapter(info: GPUAdapterInfo, api: string): string {
  const parts = [info.description, info.device, info.vendor].filter((s) => s && s.length > 0);
  return `${[...new Set(parts)].join(', ')} (${api})`;
}

/**
 * Opens a WebGPU device. `hardwareOnly` (backend auto) tries only what a GPU driver provides and skips a
 * backend whose system library is absent, so a machine without a GPU pays nothing. Returns the device, or
 * the reasons none was opened (naming missing libraries and the Debian packages that provide them).
 */
export async function openWebgpu(choice: WebgpuAdapterChoice, hardwareOnly: boolean): Promise<WebgpuDevice | string> {
  const reasons: string[] = [];
  let webgpu: typeof import('webgpu');
  try {
    webgpu = await import('webgpu');
  } catch (err) {
    return `the webgpu package is not loadable (${(err as Error).message.split('\n')[0]})`;
  }
  for (const api of apisFor(choice, hardwareOnly)) {
    const missing = missingLibs(api);
    if (missing.length > 0) {
      reasons.push(
        `${api}: missing system libraries ${missing.map((m) => `${m.lib} (Debian package ${m.pkg})`).join(', ')}`,
      );
      continue;
    }
    // Mesa's EGL needs no display server in this mode.
    if (api === 'opengl') process.env.EGL_PLATFORM ??= 'surfaceless';
    const gpu = webgpu.create([`backend=${api}`]);
    const adapter = await gpu.requestAdapter({
      powerPreference: 'high-performance',
      featureLevel: api === 'opengl' ? 'compatibility' : 'core',
    } as GPURequestAdapterOptions);
    if (!adapter) {
      reasons.push(
        `${api}: Dawn found no adapter${api === 'vulkan' ? ' (no Vulkan driver for a GPU: is the GPU driver installed?)' : ''}`,
      );
      continue;
    }
    const software = isSoftware(adapter.info);
    if (hardwareOnly && software) {
      reasons.push(`${api}: only a software adapter (${describeAdapter(adapter.info, api)})`);
      continue;
    }
    const L = adapter.limits;
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: L.maxStorageBufferBindingSize,
        maxBufferSize: L.maxBufferSize,
        maxComputeWorkgroupStorageSize: L.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: L.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: L.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupsPerDimension: L.maxComputeWorkgroupsPerDimension,
      },
    });
    // tfjs-backend-webgpu looks for navigator.gpu; Node 20 has no navigator, Node ≥ 21 has one without gpu.
    const g = globalThis as { navigator?: object };
    Object.assign(globalThis, webgpu.globals);
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    else g.navigator = { gpu };
    return {
      api,
      description: describeAdapter(adapter.info, api),
      software,
      maxBindingBytes: L.maxStorageBufferBindingSize,
      maxBufferBytes: L.maxBufferSize,
      device,
    };
  }
  return reasons.join('; ');
}

/** Registers tfjs's WebGPU backend on an opened device (tfjs-backend-webgpu registers nothing itself without navigator.gpu). */
export async function registerWebgpu(dev: WebgpuDevice): Promise<boolean> {
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new WebGPUBackend(dev.device, dev.device.adapterInfo));
  if (!(await tf.setBackend('webgpu'))) return false;
  // One matmul program for every shape: its per-element arithmetic does not depend on the number of rows (the
  // split-K program adds partial sums with atomics, in no fixed order), so a row's result does not depend on
  // its batch neighbours.
  tf.env().set('WEBGPU_MATMUL_PROGRAM_TYPE', MATMUL_PACKED_PROGRAM);
  return true;
}

/** tfjs-backend-webgpu's MatMulProgramType.MatMulPackedProgram. */
const MATMUL_PACKED_PROGRAM = 3;

interface TfjsWebgpuBackend {
  uploadToGPU(id: object): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: object | null;
  bufferManager: { freeBuffers: Map<string, GPUBuffer[]>; numFreeBuffers: number; numBytesAllocated: number };
}

const tfjsWebgpu = () => tf.backend() as unknown as TfjsWebgpuBackend;

/**
 * Moves a freshly created tensor's data to the GPU now and drops its host copy (tfjs otherwise keeps it in JS
 * memory until first use, so a model would briefly need its size twice over).
 */
export function uploadToDevice<T extends tf.Tensor>(t: T): T {
  const backend = tfjsWebgpu();
  backend.uploadToGPU(t.dataId);
  // A buffer reused from tfjs's pool is filled through a staging copy: submit it so the staging buffer is freed.
  // A compute pass left open by earlier kernels is ended first, or the submitted command buffer is invalid.
  if (backend.commandEncoder) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
  return t;
}

/** Bytes of GPU buffers tfjs holds: its tensors' and its pool's. */
export function webgpuBytesAllocated(): number {
  return tfjsWebgpu().bufferManager.numBytesAllocated;
}

/** tfjs-backend-webgpu keeps the buffers of disposed tensors for reuse; this frees them on the device. */
function releasePooledBuffers(): void {
  const pool = tfjsWebgpu().bufferManager;
  for (const list of pool.freeBuffers.values()) {
    for (const b of list) {
      pool.numBytesAllocated -= b.size;
      b.destroy();
    }
    list.length = 0;
  }
  pool.numFreeBuffers = 0;
}

/**
 * Checks that `bytes` can be allocated on the device, by allocating and freeing it in buffer-sized pieces
 * inside an out-of-memory error scope (WebGPU reports no memory size), after freeing what tfjs keeps pooled
 * from disposed tensors (a model disposed earlier in the process). Returns false when it cannot.
 */
export async function deviceCanHold(dev: WebgpuDevice, bytes: number): Promise<boolean> {
  releasePooledBuffers();
  const piece = Math.min(dev.maxBufferBytes, 1 << 30) & ~3;
  const buffers: GPUBuffer[] = [];
  dev.device.pushErrorScope('out-of-memory');
  for (let left = bytes; left > 0; left -= piece) {
    buffers.push(dev.device.createBuffer({ size: Math.min(piece, left + 3) & ~3, usage: GPUBufferUsage.STORAGE }));
  }
  const error = await dev.device.popErrorScope();
  for (const b of buffers) b.destroy();
  return error === null;
}

/** Frees the device so the process can exit (Dawn keeps Node's event loop alive while one is open). */
export function closeWebgpu(dev: WebgpuDevice): void {
  if (tf.findBackend('webgpu')) tf.removeBackend('webgpu');
  dev.device.destroy();
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator && 'gpu' in g.navigator) delete g.navigator.gpu;
}
