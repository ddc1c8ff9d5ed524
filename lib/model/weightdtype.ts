// Weight matrices in the dtypes a model can be held in, and the conversions between them: widening to f32,
// rounding f32 to bf16/f16 (nearest even, as torch's casts), and FP8 E4M3 quantization per output channel
// (scale = absmax / 448, values rounded to nearest even and saturated, as llm-compressor's FP8 recipes).
// A device that computes in f32 only (the CPU backends) holds the values a dtype holds, widened.
import { bf16ToF32, e4m3ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../io/dtype.ts';
import type { WeightDtype } from './kernels.ts';

/** A weight [rows, cols] in torch layout (rows = output features). */
export type StoredMatrix =
  | { kind: 'f32'; rows: number; cols: number; data: Float32Array }
  | { kind: 'bf16' | 'f16'; rows: number; cols: number; bits: Uint16Array }
  /** FP8 E4M3 bytes; value = e4m3(byte) · scale[row] (per channel) or · scale[0] (per tensor). */
  | { kind: 'fp8'; rows: number; cols: number; bytes: Uint8Array; scale: Float32Array };

/** Bytes of the matrix as stored (scales included). */
export function storedBytes(m: StoredMatrix): number {
  const n = m.rows * m.cols;
  return m.kind === 'f32' ? 4 * n : m.kind === 'fp8' ? n + 4 * m.scale.length : 2 * n;
}

/** The values in f32 (FP8: e4m3 · scale, multiplied in f32). */
export function matrixF32(m: StoredMatrix): Float32Array {
  switch (m.kind) {
    case 'f32':
      return m.data;
    case 'bf16':
      return bf16ToF32(m.bits);
    case 'f16':
      return f16ToF32(m.bits);
    case 'fp8': {
      const out = e4m3ToF32(m.bytes);
      const per = m.scale.length > 1;
      for (let r = 0; r < m.rows; r++) {
        const s = m.scale[per ? r : 0];
        for (let i = r * m.cols; i < (r + 1) * m.cols; i++) out[i] = Math.fround(out[i] * s);
      }
      return out;
    }
  }
}

/** The matrix held in `dtype`: unchanged if it is stored so, else converted from its f32 values. */
export function matrixAs(m: StoredMatrix, dtype: WeightDtype): StoredMatrix {
  if (m.kind === dtype) return m;
  const { rows, cols } = m;
  const data = matrixF32(m);
  switch (dtype) {
    case 'f32':
      return { kind: 'f32', rows, cols, data };
    case 'bf16':
      return { kind: 'bf16', rows, cols, bits: f32ToBf16(data) };
    case 'f16':
      return { kind: 'f16', rows, cols, bits: f32ToF16(data) };
    case 'fp8':
      return quantizeFp8(data, rows, cols);
  }
}

/**
 * How one matrix is held in a model held in `dtype`. FP8 is weight-only for the decoder's linears, as in
 * compressed-tensors checkpoints and vLLM: the embeddings and lm_head (`linear` false) keep their stored dtype,
 * and so do the linears an FP8 checkpoint's ignore list left unquantized (`quantize` false: only a checkpoint
 * that is not FP8 is quantized on load).
 */
export function heldAs(m: StoredMatrix, dtype: WeightDtype, o: { linear: boolean; quantize: boolean }): StoredMatrix {
  if (dtype !== 'fp8' || m.kind === 'fp8') return matrixAs(m, dtype);
  return o.linear && o.quantize ? matrixAs(m, 'fp8') : m;
}

/** Matrices held alike, for joining their rows: as they are when they are, else all in f32 (exact). */
export function heldAlike(ms: StoredMatrix[]): StoredMatrix[] {
  return ms.every((m) => m.kind === ms[0].kind) ? ms : ms.map((m) => matrixAs(m, 'f32'));
}

const E4M3_MAX = 448;

/** The e4m3 byte nearest to x (|x| ≤ 448), ties to even mantissa. */
function e4m3Byte(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x80 : 0;
  const a = Math.min(Math.abs(x), E4M3_MAX);
  // Exponent of a's binade (subnormals share the step of the smallest normal binade, 2^-9).
  let e = a < 2 ** -6 ? -6 : Math.floor(Math.log2(a));
  if (e > -6 && a < 2 ** e) e--; // log2 rounded up just below a power of two
  const step = 2 ** (e - 3);
  const q = a / step;
  let n = Math.floor(q);
  const rest = q - n;
  if (rest > 0.5 || (rest === 0.5 && n % 2 === 1)) n++;
  // n is 8..16 in a normal binade (16: the next binade's 1.0), 0..8 below 2^-6.
  if (a < 2 ** -6) return sign | (n === 8 ? 0x08 : n);
  if (n === 16) return sign | ((e + 8) << 3);
  return sign | ((e + 7) << 3) | (n - 8);
}

/** Per-output-channel absmax FP8 E4M3: scale[r] = max|w[r, :]| / 448, byte = e4m3(w / scale[r]). */
export function quantizeFp8(w: Float32Array, rows: number, cols: number): StoredMatrix {
  const bytes = new Uint8Array(rows * cols);
  const scale = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let i = r * cols; i < (r + 1) * cols; i++) max = Math.max(max, Math.abs(w[i]));
    const s = max === 0 ? 1 : Math.fround(max / E4M3_MAX);
    scale[r] = s;
    for (let i = r * cols; i < (r + 1) * cols; i++) bytes[i] = e4m3Byte(Math.fround(w[i] / s));
  }
  return { kind: 'fp8', rows, cols, bytes, scale };
}
