import { InputError } from '../errors.ts';
import { DTYPE_BYTES, type DType } from './dtype.ts';
import { ZipArchive } from './zip.ts';

/** The header of a `.npy` array: element type, shape, memory order, and where the data starts. */
export interface NpyHeader {
  dtype: DType;
  shape: number[];
  fortranOrder: boolean;
  dataOffset: number;
}

const DESCR: Record<string, DType> = {
  '<f4': 'F32',
  '<f2': 'F16',
  '<f8': 'F64',
  '<i4': 'I32',
  '<i8': 'I64',
  '<i2': 'I16',
  '|i1': 'I8',
  '|u1': 'U8',
  '|b1': 'BOOL',
};

/** Parses the `.npy` header at the start of `bytes` (format versions 1–3). `what` names the array in errors. */
export function parseNpyHeader(bytes: Uint8Array, what: string): NpyHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    throw new InputError(`${what}: not a .npy array (bad magic)`);
  }
  const major = buf.readUInt8(6);
  const lenBytes = major === 1 ? 2 : 4;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = 8 + lenBytes;
  if (start + headerLen > buf.length) throw new InputError(`${what}: .npy header longer than the bytes read`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new InputError(`${what}: cannot parse the .npy header ${JSON.stringify(header.trim())}`);
  }
  const dtype = DESCR[descr];
  if (!dtype)
    throw new InputError(`${what}: element type '${descr}' is not supported (expected little-endian <f4, <f2 or <f8)`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  return { dtype, shape, fortranOrder: fortran === 'True', dataOffset: start + headerLen };
}

/** One array inside an `.npz`, readable by byte range of its data. */
export interface NpzArray extends NpyHeader {
  name: string;
  /** Bytes [begin, end) of the array's data (after the header). */
  read(begin: number, end: number): Uint8Array;
}

/** Opens a numpy `.npz` (stored or deflated members) and lists its arrays by name (without `.npy`). */
export function openNpz(path: string): { arrays: Map<string, NpzArray>; close(): void } {
  const zip = new ZipArchive(path);
  const arrays = new Map<string, NpzArray>();
  try {
    for (const entry of zip.entries.values()) {
      if (!entry.name.endsWith('.npy')) continue;
      const name = entry.name.slice(0, -4);
      const what = `${path}: array ${name}`;
      const head = zip.read(entry.name, 0, Math.min(entry.size, 65536 + 12));
      const h = parseNpyHeader(head, what);
      const bytes = h.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[h.dtype];
      if (h.dataOffset + bytes !== entry.size) {
        throw new InputError(
          `${what}: ${entry.size - h.dataOffset} data bytes for shape [${h.shape}] of ${h.dtype} (expected ${bytes})`,
        );
      }
      arrays.set(name, { ...h, name, read: (b, e) => zip.read(entry.name, h.dataOffset + b, h.dataOffset + e) });
    }
  } catch (err) {
    zip.close();
    throw err;
  }
  return { arrays, close: () => zip.close() };
}
