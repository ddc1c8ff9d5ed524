import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';
import { DTYPE_BYTES, type DType, toFloat32 } from './dtype.ts';
import { shown } from './json.ts';

export interface TensorInfo {
  dtype: DType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

/** A named, f32-widened tensor. */
export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

/** Anything that serves named tensors on demand: one safetensors file or a sharded checkpoint. */
export interface TensorSource {
  names(): string[];
  has(name: string): boolean;
  info(name: string): TensorInfo & { file: string };
  /** Reads one tensor, widened to f32. Rows [rowStart, rowEnd) of the first axis only, when given. */
  read(name: string, rows?: [number, number]): F32Tensor;
  /** Reads one tensor's bytes as stored (its dtype in `info`). */
  readBytes(name: string): Uint8Array;
  close(): void;
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** One `.safetensors` file: the header is parsed at open, tensor bytes are read only when asked for. */
export class SafetensorsFile implements TensorSource {
  readonly path: string;
  readonly metadata: Record<string, string>;
  private readonly tensors = new Map<string, TensorInfo>();
  private fd: number;

  constructor(path: string) {
    this.path = path;
    if (!existsSync(path)) throw new InputError(`${path}: file not found`);
    this.fd = openSync(path, 'r');
    const size = fstatSync(this.fd).size;
    this.metadata = {};
    const fail = (why: string): never => {
      closeSync(this.fd);
      throw new InputError(`${path}: not a valid safetensors file: ${why}`);
    };
    if (size < 8) fail(`${size} bytes, shorter than the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readSync(this.fd, lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > size - 8 || headerLen > 100_000_000)
      fail(`header length ${headerLen} exceeds the file (${size} bytes): truncated?`);
    const headerBuf = Buffer.alloc(headerLen);
    readSync(this.fd, headerBuf, 0, headerLen, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch (err) {
      return fail(`header is not JSON (${(err as Error).message})`);
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header))
      fail(`header: expected a JSON object, found ${shown(header, 40)}`);
    const entries = header as Record<string, unknown>;
    const meta = entries.__metadata__ ?? {};
    if (meta === null || typeof meta !== 'object' || Array.isArray(meta))
      fail('__metadata__: expected an object of strings');
    this.metadata = meta as Record<string, string>;
    const dataStart = 8 + headerLen;
    const ranges: [number, number, string][] = [];
    for (const [name, raw] of Object.entries(entries)) {
      if (name === '__metadata__') continue;
      const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
      if (t === null || typeof t !== 'object' || Array.isArray(t))
        fail(`tensor ${name}: expected an object {dtype, shape, data_offsets}, found ${shown(raw, 40)}`);
      const { dtype, shape, data_offsets: offsets } = t!;
      if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES))
        fail(`tensor ${name}: unknown dtype ${JSON.stringify(dtype)}`);
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        fail(`tensor ${name}: shape: expected a list of non-negative integers, found ${shown(shape, 40)}`);
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
        fail(
          `tensor ${name}: data_offsets: expected [begin, end] of non-negative integers, found ${shown(offsets, 40)}`,
        );
      }
      const bytes = numel(shape as number[]) * DTYPE_BYTES[dtype as DType];
      const [b, e] = offsets as [number, number];
      if (e - b !== bytes) fail(`tensor ${name}: ${e - b} bytes for shape [${shape}] of ${dtype} (expected ${bytes})`);
      if (dataStart + e > size)
        fail(`tensor ${name}: data ends at byte ${dataStart + e} but the file has ${size} bytes (truncated)`);
      ranges.push([b, e, name]);
      this.tensors.set(name, {
        dtype: dtype as DType,
        shape: shape as number[],
        begin: dataStart + b,
        end: dataStart + e,
      });
    }
    ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    for (let i = 1; i < ranges.length; i++) {
      if (ranges[i][0] < ranges[i - 1][1])
        fail(
          `tensors ${ranges[i - 1][2]} and ${ranges[i][2]}: data_offsets overlap ([${ranges[i - 1].slice(0, 2)}] and [${ranges[i].slice(0, 2)}])`,
        );
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo & { file: string } {
    const t = this.tensors.get(name);
    if (!t) throw new InputError(`${this.path}: tensor ${name} not found`);
    return { ...t, file: this.path };
  }

  readBytes(name: string, rows?: [number, number]): Uint8Array {
    const t = this.info(name);
    let { begin, end } = t;
    if (rows) {
      const rowBytes = (end - begin) / t.shape[0];
      [begin, end] = [t.begin + rows[0] * rowBytes, t.begin + rows[1] * rowBytes];
    }
    const buf = new Uint8Array(end - begin);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(this.fd, buf, off, Math.min(buf.length - off, 1 << 30), begin + off);
      if (n === 0) throw new InputError(`${this.path}: tensor ${name}: unexpected end of file`);
      off += n;
    }
    return buf;
  }

  read(name: string, rows?: [number, number]): F32Tensor {
    const t = this.info(name);
    const shape = rows ? [rows[1] - rows[0], ...t.shape.slice(1)] : t.shape;
    return { shape, data: toFloat32(this.readBytes(name, rows), t.dtype, `${this.path}: tensor ${name}`) };
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A checkpoint split over several files, listed by `model.safetensors.index.json`. */
export class ShardedSafetensors implements TensorSource {
  private readonly files = new Map<string, SafetensorsFile>();
  private readonly weightMap: Record<string, string>;

  constructor(readonly indexPath: string) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (err) {
      throw new InputError(`${indexPath}: cannot read the shard index (${(err as Error).message})`);
    }
    if (!index.weight_map) throw new InputError(`${indexPath}: field weight_map is missing`);
    this.weightMap = index.weight_map;
  }

  private file(name: string): SafetensorsFile {
    const shard = this.weightMap[name];
    if (!shard) throw new InputError(`${this.indexPath}: tensor ${name} not found in weight_map`);
    let f = this.files.get(shard);
    if (!f) {
      f = new SafetensorsFile(join(dirname(this.indexPath), shard));
      this.files.set(shard, f);
    }
    return f;
  }

  names(): string[] {
    return Object.keys(this.weightMap);
  }

  has(name: string): boolean {
    return name in this.weightMap;
  }

  info(name: string) {
    return this.file(name).info(name);
  }

  read(name: string, rows?: [number, number]): F32Tensor {
    return this.file(name).read(name, rows);
  }

  readBytes(name: string): Uint8Array {
    return this.file(name).readBytes(name);
  }

  close(): void {
    for (const f of this.files.values()) f.close();
  }
}

/** Opens the weights of a Hugging Face checkpoint directory (single file or sharded), or one file. */
export function openSafetensors(path: string): TensorSource {
  if (path.endsWith('.safetensors')) return new SafetensorsFile(path);
  const index = join(path, 'model.safetensors.index.json');
  if (existsSync(index)) return new ShardedSafetensors(index);
  const single = join(path, 'model.safetensors');
  if (existsSync(single)) return new SafetensorsFile(single);
  throw new InputError(`${path}: no model.safetensors or model.safetensors.index.json`);
}

/** The header bytes (length + JSON, padded so tensor data stays 8-byte aligned) for tensors in this order. */
function headerBytes(
  tensors: { name: string; dtype: DType; shape: number[] }[],
  metadata?: Record<string, string>,
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = numel(t.shape) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return [len, Buffer.from(json, 'utf8')];
}

/** A tensor to write whose bytes are produced only when its turn comes (one tensor in memory at a time). */
export interface StreamedTensor {
  name: string;
  dtype: DType;
  shape: number[];
  bytes: () => Uint8Array;
}

/**
 * Writes a safetensors file tensor by tensor, atomically (temp file + rename): files larger than memory
 * (a merged checkpoint's shards) never need to be held whole.
 */
export function writeSafetensorsStreamed(
  path: string,
  tensors: StreamedTensor[],
  metadata?: Record<string, string>,
): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  const put = (bytes: Uint8Array) => {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  };
  try {
    headerBytes(tensors, metadata).forEach(put);
    for (const t of tensors) {
      const bytes = t.bytes();
      const want = numel(t.shape) * DTYPE_BYTES[t.dtype];
      if (bytes.length !== want) throw new Error(`tensor ${t.name}: ${bytes.length} bytes, expected ${want}`);
      put(bytes);
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {}
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Writes f32 tensors as one safetensors file, atomically, tensors in the given order. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, F32Tensor>,
  metadata?: Record<string, string>,
): void {
  for (const [name, t] of Object.entries(tensors)) {
    if (t.data.length !== numel(t.shape))
      throw new Error(`tensor ${name}: ${t.data.length} values for shape [${t.shape}]`);
  }
  const chunks = headerBytes(
    Object.entries(tensors).map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape })),
    metadata,
  );
  for (const t of Object.values(tensors))
    chunks.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  writeFileAtomic(path, chunks);
}
