import { InputError } from '../errors.ts';
import { DTYPE_BYTES, type DType, toFloat32 } from '../io/dtype.ts';
import type { NpzArray } from '../io/npy.ts';
import type { SafetensorsFile } from '../io/safetensors.ts';
import type { TorchTensor } from '../io/torch.ts';
import { LatentRows, type WeightDtype } from './rows.ts';

/** A tensor as it lies in any of the SAE file formats, readable by byte range without loading it all. */
export interface StoredTensor {
  /** "<file>: tensor <name>", for error messages. */
  what: string;
  dtype: DType;
  shape: number[];
  /** 'F': the bytes hold the matrix column-major (numpy fortran_order, a saved torch `.T` view). */
  order: 'C' | 'F';
  /** Bytes [begin, end) of the data, in storage order. */
  read(begin: number, end: number): Uint8Array;
}

export function fromSafetensors(file: SafetensorsFile, name: string): StoredTensor {
  const info = file.info(name);
  const rowBytes = (info.end - info.begin) / Math.max(1, info.shape[0] ?? 1);
  return {
    what: `${file.path}: tensor ${name}`, dtype: info.dtype, shape: info.shape, order: 'C',
    read(begin, end) {
      if (info.shape.length === 0 || (begin === 0 && end === info.end - info.begin)) return file.readBytes(name);
      if (begin % rowBytes || end % rowBytes) throw new Error(`${this.what}: read [${begin}, ${end}) is not row-aligned`);
      return file.readBytes(name, [begin / rowBytes, end / rowBytes]);
    },
  };
}

export function fromNpz(path: string, a: NpzArray): StoredTensor {
  return { what: `${path}: array ${a.name}`, dtype: a.dtype, shape: a.shape, order: a.fortranOrder ? 'F' : 'C', read: a.read };
}

export function fromTorch(path: string, t: TorchTensor): StoredTensor {
  return { what: `${path}: tensor ${t.name}`, dtype: t.dtype, shape: t.shape, order: t.order, read: t.read };
}

function checkFloat(t: StoredTensor): void {
  if (!['F32', 'BF16', 'F16', 'F64'].includes(t.dtype)) {
    throw new InputError(`${t.what}: dtype ${t.dtype}, expected a floating type (F32, BF16, F16 or F64)`);
  }
}

export function checkShape(t: StoredTensor, expected: number[], meaning: string): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new InputError(`${t.what}: shape [${t.shape}], expected ${meaning} = [${expected}]`);
  }
}

/** A 1-D tensor widened to f32. */
export function readVector(t: StoredTensor, length: number, meaning: string): Float32Array {
  checkFloat(t);
  checkShape(t, [length], meaning);
  return toFloat32(t.read(0, length * DTYPE_BYTES[t.dtype]), t.dtype, t.what);
}

const CHUNK_BYTES = 64 << 20;

/**
 * A 2-D weight matrix rearranged latent-major ([d_sae, d]), whatever its orientation in the file:
 * `latentAxis` says which logical axis indexes latents. Read in chunks so that a 1 GiB matrix never
 * needs a second full copy; bf16/f16 stay 16-bit, f64 is narrowed to f32.
 */
export function readLatentMajor(t: StoredTensor, latentAxis: 0 | 1, expected: number[], meaning: string): LatentRows {
  checkFloat(t);
  checkShape(t, expected, meaning);
  const dSae = t.shape[latentAxis];
  const d = t.shape[1 - latentAxis];
  const dtype: WeightDtype = t.dtype === 'F64' ? 'F32' : (t.dtype as WeightDtype);
  const data = dtype === 'F32' ? new Float32Array(dSae * d) : new Uint16Array(dSae * d);
  // Physical layout: row-major [outer, inner]; latents are the outer axis when that matches.
  const latentsOuter = (t.order === 'C') === (latentAxis === 0);
  const inner = latentsOuter ? d : dSae;
  const outer = latentsOuter ? dSae : d;
  const el = DTYPE_BYTES[t.dtype];
  const rowsPerChunk = Math.max(1, Math.floor(CHUNK_BYTES / (inner * el)));
  for (let r0 = 0; r0 < outer; r0 += rowsPerChunk) {
    const r1 = Math.min(outer, r0 + rowsPerChunk);
    const chunk = typed(t, t.read(r0 * inner * el, r1 * inner * el));
    if (latentsOuter) {
      data.set(chunk, r0 * inner);
      continue;
    }
    // Transpose the chunk: physical row r (a model dimension) scatters into column r of every latent row.
    const n = r1 - r0;
    for (let j = 0; j < dSae; j++) {
      const dst = j * d + r0;
      for (let r = 0; r < n; r++) data[dst + r] = chunk[r * dSae + j];
    }
  }
  return new LatentRows(dtype, dSae, d, data);
}

/** Bytes as a typed array of the stored element type (f64 narrowed to f32), copied to an aligned buffer. */
function typed(t: StoredTensor, bytes: Uint8Array): Float32Array | Uint16Array {
  if (t.dtype === 'F64') return toFloat32(bytes, 'F64', t.what);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return t.dtype === 'F32' ? new Float32Array(copy.buffer) : new Uint16Array(copy.buffer);
}
