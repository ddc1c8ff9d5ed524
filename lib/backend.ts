// The numeric backend a session computes on: which tfjs backend, which WebGPU device, and the device's
// concerns (uploading weights, the largest tensor one kernel may bind, how much memory is left). A Session owns
// one and hands its spec to worker threads, which open the same kind for themselves.
import * as tf from '@tensorflow/tfjs';
import { InputError } from './errors.ts';
import {
  closeWebgpu,
  deviceCanHold,
  openWebgpu,
  registerWebgpu,
  uploadToDevice,
  WEBGPU_ADAPTER_CHOICES,
  type WebgpuAdapterChoice,
  type WebgpuDevice,
  webgpuBytesAllocated,
} from './webgpu.ts';

export type BackendChoice = 'auto' | 'node-gpu' | 'webgpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: BackendChoice[] = ['auto', 'node-gpu', 'webgpu', 'node', 'wasm', 'cpu'];
export type BackendKind = Exclude<BackendChoice, 'auto'>;

/** What to open: a backend choice, the WebGPU adapter, and (for tests of the split paths) a lower binding limit. */
export interface BackendSpec {
  choice: BackendChoice;
  /** Dawn's system API for WebGPU (default auto). */
  adapter?: WebgpuAdapterChoice;
  /** Caps the bytes one kernel may bind, below the device's own limit (lets tests split tiny models). */
  maxBindingBytes?: number;
}

export interface Backend {
  readonly kind: BackendKind;
  /** One line for logs and provenance, e.g. `wasm (SIMD, single thread)` or `webgpu: NVIDIA H200 (vulkan)`. */
  readonly description: string;
  /** Opens the same kind of backend in another thread. */
  readonly spec: BackendSpec;
  /** The WebGPU device when kind is webgpu. */
  readonly gpu: WebgpuDevice | null;
  /** Largest tensor (bytes) one kernel may bind: Infinity except on WebGPU. */
  readonly maxBindingBytes: number;
  /** Moves a freshly made weight tensor to the device now, dropping its host copy (a no-op off the GPU). */
  upload<T extends tf.Tensor>(t: T): T;
  /** Why `bytes` of weights cannot be held (with room for working memory), or null when they can. */
  cannotHold(bytes: number): Promise<string | null>;
  /** Device bytes tfjs holds now (tensors, and on WebGPU its buffer pool). */
  tfjsBytes(): number;
  /** Frees what the backend holds open (the WebGPU device), so the process can exit. */
  close(): void;
}

/** One WASM instance addresses 4 GiB; weights must leave room for activations and the KV cache. */
const WASM_WEIGHT_BUDGET = 3.2 * 2 ** 30;
/** On a GPU, room beyond the weights for activations, the KV cache and tfjs's buffer pool. */
const GPU_HEADROOM = 1.1;
const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);

/** The npm package that provides each optional native backend, and the tfjs name it registers. */
const NATIVE: Record<'node-gpu' | 'node', { pkg: string; name: string }> = {
  'node-gpu': { pkg: '@tensorflow/tfjs-node-gpu', name: 'tensorflow' },
  node: { pkg: '@tensorflow/tfjs-node', name: 'tensorflow' },
};

type Attempt = { ok: Backend } | { failure: string };

async function tryNative(kind: 'node-gpu' | 'node'): Promise<Attempt> {
  try {
    await import(NATIVE[kind].pkg);
  } catch (err) {
    return { failure: `${NATIVE[kind].pkg} is not loadable (${(err as Error).message.split('\n')[0]})` };
  }
  if (!(await tf.setBackend(NATIVE[kind].name)))
    return { failure: `${NATIVE[kind].pkg} loaded but its backend failed to start` };
  return { ok: hostBackend(kind, kind, Infinity) };
}

async function tryWasm(): Promise<Attempt> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) return { failure: 'the wasm backend failed to start' };
  } catch (err) {
    return { failure: `@tensorflow/tfjs-backend-wasm is not loadable (${(err as Error).message})` };
  }
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
  const description = `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'threads' : 'single thread'})`;
  return { ok: hostBackend('wasm', description, WASM_WEIGHT_BUDGET) };
}

async function tryCpu(): Promise<Attempt> {
  if (!(await tf.setBackend('cpu'))) return { failure: 'the cpu backend failed to start' };
  return { ok: hostBackend('cpu', 'cpu', Infinity) };
}

/** A backend whose tensors live in host memory (WASM heap, JS or TensorFlow's allocator). */
function hostBackend(kind: BackendKind, description: string, budget: number): Backend {
  return {
    kind,
    description,
    spec: { choice: kind },
    gpu: null,
    maxBindingBytes: Infinity,
    upload: (t) => t,
    cannotHold: async (bytes) =>
      bytes > budget
        ? `the model needs ${gib(bytes)} GiB of f32 weights, more than one WASM instance holds (4 GiB heap). ` +
          'Run it on a GPU with --backend webgpu, or install @tensorflow/tfjs-node (CPU) and run with --backend node.'
        : null,
    tfjsBytes: () => tf.memory().numBytes,
    close: () => {},
  };
}

/** WebGPU through Dawn; under `auto` only a hardware adapter is taken (the software one is slower than WASM). */
async function tryWebgpu(spec: BackendSpec, hardwareOnly: boolean): Promise<Attempt> {
  const adapter = spec.adapter ?? 'auto';
  if (!WEBGPU_ADAPTER_CHOICES.includes(adapter))
    throw new InputError(`--webgpu-adapter: expected one of ${WEBGPU_ADAPTER_CHOICES.join(', ')}, found "${adapter}"`);
  const dev = await openWebgpu(adapter, hardwareOnly);
  if (typeof dev === 'string') {
    return {
      failure: `no WebGPU adapter (${dev})${hardwareOnly ? '' : '. Install the system libraries named (npm run setup:system does it on Debian/Ubuntu), or choose another --webgpu-adapter'}`,
    };
  }
  if (!(await registerWebgpu(dev))) return { failure: `tfjs-backend-webgpu failed to start on ${dev.description}` };
  return {
    ok: {
      kind: 'webgpu',
      description: `webgpu: ${dev.description}${dev.software ? ', software adapter' : ''}`,
      spec: { choice: 'webgpu', adapter: dev.api as WebgpuAdapterChoice },
      gpu: dev,
      maxBindingBytes: Math.min(dev.maxBindingBytes, dev.maxBufferBytes),
      upload: (t) => uploadToDevice(t),
      cannotHold: async (bytes) =>
        (await deviceCanHold(dev, bytes * GPU_HEADROOM))
          ? null
          : `the model needs ${gib(bytes)} GiB of weights (${gib(bytes * GPU_HEADROOM)} GiB with working memory), ` +
            `more than the WebGPU device (${dev.description}) can allocate now. See docs/model.md for which models fit which GPUs.`,
      tfjsBytes: () => webgpuBytesAllocated(),
      close: () => closeWebgpu(dev),
    },
  };
}

/**
 * Opens the numeric backend: native TensorFlow GPU when installed and loadable, else WebGPU on a hardware
 * adapter, else native TensorFlow CPU, else WASM with SIMD, else plain JS — or exactly the one asked for (an
 * error when it cannot load). tfjs computes on one backend per process, so a second call gets the backend
 * already open when it is of the kind asked for.
 */
export async function openBackend(
  spec: BackendSpec | BackendChoice = 'auto',
  log: (line: string) => void = (l) => console.error(l),
): Promise<Backend> {
  const s: BackendSpec = typeof spec === 'string' ? { choice: spec } : spec;
  const current = opened.get(tf.getBackend() ?? '');
  if (current && (s.choice === 'auto' || s.choice === current.kind))
    return withBindingLimit(current, s.maxBindingBytes);
  const order: BackendKind[] = s.choice === 'auto' ? ['node-gpu', 'webgpu', 'node', 'wasm', 'cpu'] : [s.choice];
  const failures: string[] = [];
  for (const kind of order) {
    const attempt =
      kind === 'node-gpu' || kind === 'node'
        ? await tryNative(kind)
        : kind === 'webgpu'
          ? await tryWebgpu(s, s.choice === 'auto')
          : kind === 'wasm'
            ? await tryWasm()
            : await tryCpu();
    if ('ok' in attempt) {
      await tf.ready();
      const backend = track(attempt.ok);
      log(`backend: ${backend.description}`);
      return withBindingLimit(backend, s.maxBindingBytes);
    }
    failures.push(attempt.failure);
  }
  throw new InputError(`--backend ${s.choice}: ${failures.join('; ')}`);
}

/** The backends open in this process, by tfjs backend name (tfjs holds one of each). */
const opened = new Map<string, Backend>();

function track(b: Backend): Backend {
  const name = tf.getBackend();
  const tracked: Backend = {
    ...b,
    close: () => {
      if (opened.get(name) === tracked) opened.delete(name);
      b.close();
    },
  };
  opened.set(name, tracked);
  return tracked;
}

/** The same backend with one kernel binding at most `bytes` (tests split tiny models this way). */
export function withBindingLimit(b: Backend, bytes: number | undefined): Backend {
  if (bytes === undefined || !(bytes < b.maxBindingBytes)) return b;
  return { ...b, maxBindingBytes: bytes, spec: { ...b.spec, maxBindingBytes: bytes } };
}
