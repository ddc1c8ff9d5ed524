import { InputError } from '../errors.ts';
import { bf16ToF32, DTYPE_BYTES, type DType, f16ToF32, firstNonFinite, nonFiniteName, toFloat32 } from '../io/dtype.ts';
import type { NpzArray } from '../io/npy.ts';
import type { SafetensorsFile } from '../io/safetensors.ts';
import type { TorchTensor } from '../io/torch.ts';
import { WeightMatrix, type WeightDtype } from './matrix.ts';

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
    what: `${file.path}: tensor ${name}`,
    dtype: info.dtype,
    shape: info.shape,
    order: 'C',
    read(begin, end) {
      if (info.shape.length === 0 || (begin === 0 && end === info.end - info.begin)) return file.readBytes(name);
      if (begin % rowBytes || end % rowBytes)
        throw new Error(`${this.what}: read [${begin}, ${end}) is not row-aligned`);
      return file.readBytes(name, [begin / rowBytes, end / rowBytes]);
    },
  };
}

export function fromNpz(path: string, a: NpzArray): StoredTensor {
  return {
    what: `${path}: array ${a.name}`,
    dtype: a.dtype,
    shape: a.shape,
    order: a.fortranOrder ? 'F' : 'C',
    read: a.read,
  };
}

export function fromTorch(path: string, t: TorchTensor): StoredTensor {
  return { what: `${path}: tensor ${t.name}`, dtype: t.dtype, shape: t.shape, order: t.order, read: t.read };
}

function checkFloat(t: StoredTensor): void {
  if (!['F32', 'BF16', 'F16', 'F64'].includes(t.dtype)) {
    throw new InputError(`${t.what}: dtype ${t.dtype}, expected a floating type (F32, BF16, F16 or F64)`);
  }
}

function checkShape(t: StoredTensor, expected: number[], meaning: string): void {
  if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
    throw new InputError(`${t.what}: shape [${t.shape}], expected ${meaning} = [${expected}]`);
  }
}

/** A 1-D tensor widened to f32. */
export function readVector(t: StoredTensor, length: number, meaning: string): Float32Array {
  checkFloat(t);
  checkShape(t, [length], meaning);
  const v = toFloat32(t.read(0, length * DTYPE_BYTES[t.dtype]), t.dtype, t.what);
  checkFinite(t, v, 'F32', 0);
  return v;
}

/** An InputError naming the tensor and the element (in storage order) when `data` holds a NaN or Inf. */
function checkFinite(t: StoredTensor, data: Float32Array | Uint16Array, dtype: WeightDtype, offset: number): void {
  const bad = firstNonFinite(data, dtype);
  if (bad < 0) return;
  const value =
    data instanceof Float32Array
      ? data[bad]
      : (dtype === 'BF16' ? bf16ToF32 : f16ToF32)(data.subarray(bad, bad + 1))[0];
  throw new InputError(
    `${t.what}: ${nonFiniteName(value)} at element ${offset + bad} (storage order, shape [${t.shape}]); SAE weights must be finite`,
  );
}

const CHUNK_BYTES = 64 << 20;
const TILE = 8;

/**
 * A 2-D weight matrix as a row-major WeightMatrix whose rows run along logical axis `rowAxis`, whatever
 * its orientation in the file (transposing in chunks when needed, so a 1 GiB matrix never needs a second
 * full copy). bf16/f16 stay 16-bit; f64 is narrowed to f32.
 */
export function readMatrix(t: StoredTensor, rowAxis: 0 | 1, expected: number[], meaning: string): WeightMatrix {
  checkFloat(t);
  checkShape(t, expected, meaning);
  const rows = t.shape[rowAxis];
  const cols = t.shape[1 - rowAxis];
  const dtype: WeightDtype = t.dtype === 'F64' ? 'F32' : (t.dtype as WeightDtype);
  const data = dtype === 'F32' ? new Float32Array(rows * cols) : new Uint16Array(rows * cols);
  // The file holds a row-major [outer, inner] block; it is ours as is when its outer axis is our row axis.
  const asIs = (t.order === 'C') === (rowAxis === 0);
  const inner = asIs ? cols : rows;
  const outer = asIs ? rows : cols;
  const el = DTYPE_BYTES[t.dtype];
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / (inner * el)));
  for (let r0 = 0; r0 < outer; r0 += perChunk) {
    const r1 = Math.min(outer, r0 + perChunk);
    const chunk = typed(t, t.read(r0 * inner * el, r1 * inner * el));
    checkFinite(t, chunk, dtype, r0 * inner);
    if (asIs) {
      data.set(chunk, r0 * inner);
      continue;
    }
    // transpose: file row r becomes column r of every one of our rows; tiles of TILE rows keep reads
    // contiguous and the written lines in cache
    if (data instanceof Float32Array)
      transposeInto(new Uint32Array(data.buffer), new Uint32Array(chunk.buffer), rows, cols, r0, r1 - r0);
    else transposeInto(data, chunk as Uint16Array, rows, cols, r0, r1 - r0);
  }
  return new WeightMatrix(dtype, rows, cols, data);
}

/** dst[j, r0 + r] = src[r, j] for r < n, j < rows, in tiles (one element type per call keeps V8 monomorphic). */
function transposeInto<A extends Uint16Array | Uint32Array>(
  dst: A,
  src: A,
  rows: number,
  cols: number,
  r0: number,
  n: number,
): void {
  for (let j0 = 0; j0 < rows; j0 += TILE) {
    const j1 = Math.min(rows, j0 + TILE);
    for (let r = 0; r < n; r++) {
      const at = r * rows;
      for (let j = j0; j < j1; j++) dst[j * cols + r0 + r] = src[at + j];
    }
  }
}

/** Bytes as a typed array of the stored element type (f64 narrowed to f32), copied to an aligned buffer. */
function typed(t: StoredTensor, bytes: Uint8Array): Float32Array | Uint16Array {
  if (t.dtype === 'F64') return toFloat32(bytes, 'F64', t.what);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return t.dtype === 'F32' ? new Float32Array(copy.buffer) : new Uint16Array(copy.buffer);
}
