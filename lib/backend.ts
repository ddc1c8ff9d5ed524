import * as tf from '@tensorflow/tfjs';
import { InputError } from './errors.ts';

export type BackendChoice = 'auto' | 'node-gpu' | 'node' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: BackendChoice[] = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'];

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

async function tryWasm(): Promise<string | null> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
    return (await tf.setBackend('wasm')) ? null : 'the wasm backend failed to start';
  } catch (err) {
    return `@tensorflow/tfjs-backend-wasm is not loadable (${(err as Error).message})`;
  }
}

/**
 * Chooses the numeric backend once per process: native TensorFlow (GPU, then CPU) when installed and
 * loadable, else WASM with SIMD, else plain JS. A forced choice that cannot load is an error.
 */
export async function initBackend(choice: BackendChoice = 'auto', log: (line: string) => void = (l) => console.error(l)): Promise<string> {
  if (active) return active;
  const order: BackendChoice[] = choice === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [choice];
  const failures: string[] = [];
  for (const kind of order) {
    let failure: string | null;
    if (kind === 'node-gpu' || kind === 'node') failure = await tryNative(kind);
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
