import { InputError } from '../errors.ts';

/** Element types found in checkpoint files, and their widening to f32. */
export type DType = 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<DType, number> = {
  F64: 8,
  I64: 8,
  F32: 4,
  I32: 4,
  F16: 2,
  BF16: 2,
  I16: 2,
  F8_E4M3: 1,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** bf16 is the top half of an f32: shift the bits up. */
export function bf16ToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

const F16_TABLE = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return t;
})();

/** FP8 E4M3 (the "fn" variant torch and safetensors use: no infinities, 0x7f/0xff NaN), every byte's value. */
export const E4M3_TABLE = (() => {
  const t = new Float32Array(256);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const exp = (b >> 3) & 0xf;
    const mant = b & 7;
    if ((b & 0x7f) === 0x7f) t[b] = NaN;
    else if (exp === 0) t[b] = sign * mant * 2 ** -9;
    else t[b] = sign * (1 + mant / 8) * 2 ** (exp - 7);
  }
  return t;
})();

export function e4m3ToF32(src: Uint8Array, out = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) out[i] = E4M3_TABLE[src[i]];
  return out;
}

export function f16ToF32(src: Uint16Array, out = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) out[i] = F16_TABLE[src[i]];
  return out;
}

/** Widens raw little-endian bytes of a floating dtype to a fresh Float32Array. */
export function toFloat32(bytes: Uint8Array, dtype: DType, what: string): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  switch (dtype) {
    case 'F32':
      return new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.byteLength));
    case 'F16':
      return f16ToF32(new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2));
    case 'BF16':
      return bf16ToF32(new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2));
    case 'F64':
      return Float32Array.from(new Float64Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 8));
    case 'F8_E4M3':
      return e4m3ToF32(bytes);
    default:
      throw new InputError(`${what}: dtype ${dtype} is not a floating type (expected F32, F16, BF16, F8_E4M3 or F64)`);
  }
}

/**
 * Index of the first NaN or ±Inf in `data` (f32, or raw bf16/f16 bits), or -1. Weights are checked on load:
 * a NaN encoder column would read as a dead latent, an Inf bias makes every code Inf.
 */
export function firstNonFinite(data: Float32Array | Uint16Array, dtype: 'F32' | 'BF16' | 'F16' = 'F32'): number {
  if (data instanceof Float32Array) {
    for (let i = 0; i < data.length; i++) if (data[i] - data[i] !== 0) return i; // NaN and ±Inf give NaN
    return -1;
  }
  const exp = dtype === 'BF16' ? 0x7f80 : 0x7c00; // all exponent bits set: Inf or NaN
  for (let i = 0; i < data.length; i++) if ((data[i] & exp) === exp) return i;
  return -1;
}

/** "NaN" or "Inf" for a non-finite value, for error messages. */
export function nonFiniteName(v: number): string {
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Inf' : '-Inf';
}

/** f32 → bf16 bits, rounding to nearest even (as torch's `.to(torch.bfloat16)`); NaN stays NaN. */
export function f32ToBf16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i];
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = (b >>> 16) | 0x40;
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** f32 → IEEE f16 bits, rounding to nearest even, with subnormals and overflow to ±Inf (as torch's `.half()`). */
export function f32ToF16(src: Float32Array, out = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const b = bits[i];
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    const mant = b & 0x7fffff;
    if (exp === 0xff) out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
    else if (exp > 142)
      out[i] = sign | 0x7c00; // ≥ 2^16: past f16's largest finite value
    else if (exp >= 113) {
      // normal f16: keep 10 mantissa bits; the carry of a round-up may step into the exponent (or Inf)
      const half = ((exp - 112) << 10) | (mant >>> 13);
      const rest = mant & 0x1fff;
      out[i] = sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
    } else if (exp >= 102) {
      // subnormal f16: the value in units of 2^-24, rounded to nearest even
      const m = mant | 0x800000;
      const shift = 126 - exp;
      const q = m >>> shift;
      const rest = m & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      out[i] = sign | (q + (rest > halfway || (rest === halfway && q & 1) ? 1 : 0));
    } else out[i] = sign;
  }
  return out;
}

/** f32 values as the little-endian bytes of a floating dtype (F32, BF16 or F16). */
export function fromFloat32(data: Float32Array, dtype: DType, what: string): Uint8Array {
  switch (dtype) {
    case 'F32':
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    case 'BF16': {
      const h = f32ToBf16(data);
      return new Uint8Array(h.buffer);
    }
    case 'F16': {
      const h = f32ToF16(data);
      return new Uint8Array(h.buffer);
    }
    default:
      throw new Error(`${what}: cannot write dtype ${dtype} (expected F32, BF16 or F16)`);
  }
}
