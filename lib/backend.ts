import * as tf from '@tensorflow/tfjs';
import { InputError } from './errors.ts';
import {
  closeWebgpu,
  openWebgpu,
  registerWebgpu,
  WEBGPU_ADAPTER_CHOICES,
  WEBGPU_ADAPTER_ENV,
  type WebgpuAdapterChoice,
} from './webgpu.ts';

export type BackendChoice = 'auto' | 'node-gpu' | 'webgpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: BackendChoice[] = ['auto', 'node-gpu', 'webgpu', 'node', 'wasm', 'cpu'];

/** The npm package that provides each optional native backend, and the tfjs name it registers. */
const NATIVE: Record<'node-gpu' | 'node', { pkg: string; name: string }> = {
  'node-gpu': { pkg: '@tensorflow/tfjs-node-gpu', name: 'tensorflow' },
  node: { pkg: '@tensorflow/tfjs-node', name: 'tensorflow' },
};

let active: string | null = null;

async function tryNative(kind: 'node-gpu' | 'node'): Promise<string | null> {
  try {
    await import(NATIVE[kind].pkg);
  } catch (err) {
    return `${NATIVE[kind].pkg} is not loadable (${(err as Error).message.split('\n')[0]})`;
  }
  return (await tf.setBackend(NATIVE[kind].name)) ? null : `${NATIVE[kind].pkg} loaded but its backend failed to start`;
}

/** The adapter --webgpu-adapter (or ESR_WEBGPU_ADAPTER) asks for; auto by default. */
function adapterChoice(): WebgpuAdapterChoice {
  const v = process.env[WEBGPU_ADAPTER_ENV] ?? 'auto';
  if (!(WEBGPU_ADAPTER_CHOICES as string[]).includes(v)) {
    throw new InputError(
      `--webgpu-adapter (${WEBGPU_ADAPTER_ENV}): expected one of ${WEBGPU_ADAPTER_CHOICES.join(', ')}, found "${v}"`,
    );
  }
  return v as WebgpuAdapterChoice;
}

let webgpuDescription = '';

/** WebGPU through Dawn; under `auto` only a hardware adapter is taken (the software one is slower than WASM). */
async function tryWebgpu(hardwareOnly: boolean): Promise<string | null> {
  const dev = await openWebgpu(adapterChoice(), hardwareOnly);
  if (typeof dev === 'string') {
    return `no WebGPU adapter (${dev})${hardwareOnly ? '' : '. Install the system libraries named (npm run setup:system does it on Debian/Ubuntu), or choose another --webgpu-adapter'}`;
  }
  if (!(await registerWebgpu(dev))) return `tfjs-backend-webgpu failed to start on ${dev.description}`;
  webgpuDescription = `webgpu: ${dev.description}${dev.software ? ', software adapter' : ''}`;
  return null;
}

async function tryWasm(): Promise<string | null> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    return (await tf.setBackend('wasm')) ? null : 'the wasm backend failed to start';
  } catch (err) {
    return `@tensorflow/tfjs-backend-wasm is not loadable (${(err as Error).message})`;
  }
}

/**
 * Chooses the numeric backend once per process: native TensorFlow GPU when installed and loadable, else
 * WebGPU on a hardware adapter, else native TensorFlow CPU, else WASM with SIMD, else plain JS. A forced
 * choice that cannot load is an error.
 */
export async function initBackend(
  choice: BackendChoice = 'auto',
  log: (line: string) => void = (l) => console.error(l),
): Promise<string> {
  if (active) return active;
  const order: BackendChoice[] = choice === 'auto' ? ['node-gpu', 'webgpu', 'node', 'wasm', 'cpu'] : [choice];
  const failures: string[] = [];
  for (const kind of order) {
    let failure: string | null;
    if (kind === 'node-gpu' || kind === 'node') failure = await tryNative(kind);
    else if (kind === 'webgpu') failure = await tryWebgpu(choice === 'auto');
    else if (kind === 'wasm') failure = await tryWasm();
    else failure = (await tf.setBackend('cpu')) ? null : 'the cpu backend failed to start';
    if (failure === null) {
      await tf.ready();
      active = describe(kind);
      log(`backend: ${active}`);
      return active;
    }
    failures.push(failure);
  }
  throw new InputError(`--backend ${choice}: ${failures.join('; ')}`);
}

function describe(kind: BackendChoice): string {
  if (kind === 'webgpu') return webgpuDescription;
  if (kind === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const threads = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    return `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'threads' : 'single thread'})`;
  }
  return kind;
}

/** The backend in use, or null before initBackend. */
export function activeBackend(): string | null {
  return active;
}

/** Releases what the backend holds open (the WebGPU device), so the process can exit. */
export function releaseBackend(): void {
  if (active?.startsWith('webgpu')) {
    closeWebgpu();
    active = null;
  }
}
