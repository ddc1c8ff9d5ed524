import { closeSync, openSync, readSync } from 'node:fs';
import { InputError } from '../errors.ts';
import { DTYPE_BYTES, type DType } from './dtype.ts';
import { PickleGlobal, unpickle } from './pickle.ts';
import { ZipArchive } from './zip.ts';

/**
 * Reads tensors from a torch.save archive (the zip format of torch ≥ 1.6) without Python: `data.pkl`
 * names the tensors and points each at a storage member `data/<key>`; the bytes stay in the file.
 */

/** A tensor of a torch.save file, as laid out in its storage. */
export interface TorchTensor {
  name: string;
  dtype: DType;
  shape: number[];
  /** 'C' = row-major contiguous; 'F' = column-major contiguous (e.g. a saved `.T` view of a matrix). */
  order: 'C' | 'F';
  /** Bytes [begin, end) of the tensor's data, counted from its first element. */
  read(begin: number, end: number): Uint8Array;
}

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32',
  BFloat16Storage: 'BF16',
  HalfStorage: 'F16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};
const TORCH_DTYPES: Record<string, DType> = {
  float32: 'F32',
  float: 'F32',
  bfloat16: 'BF16',
  float16: 'F16',
  half: 'F16',
  float64: 'F64',
  double: 'F64',
  int64: 'I64',
  long: 'I64',
  int32: 'I32',
  int: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

interface StorageRef {
  dtype: DType | null;
  key: string;
  numel: number;
}

/** Opens a `.pt`/`.pth` state dict; returns its tensors by key (nested `state_dict` wrappers are unwrapped). */
export function openTorchStateDict(path: string): { tensors: Map<string, TorchTensor>; close(): void } {
  const zip = openArchive(path);
  try {
    const pkl = [...zip.entries.keys()].filter((n) => n.endsWith('data.pkl')).sort((a, b) => a.length - b.length)[0];
    if (!pkl) throw new InputError(`${path}: no data.pkl in the archive (not a torch.save file)`);
    const prefix = pkl.slice(0, -'data.pkl'.length);
    if (zip.entries.has(`${prefix}byteorder`) && Buffer.from(zip.read(`${prefix}byteorder`)).toString() !== 'little') {
      throw new InputError(`${path}: saved with big-endian byte order (expected little)`);
    }
    const tensors = new Map<string, TorchTensor>();
    const rebuild =
      (v3: boolean) =>
      (...args: unknown[]) => {
        const [storage, offset, size, stride] = args as [StorageRef, number, number[], number[]];
        const ints = (v: unknown) => Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && d >= 0);
        if (
          !isStorageRef(storage) ||
          !Number.isSafeInteger(offset) ||
          offset < 0 ||
          !ints(size) ||
          !ints(stride) ||
          size.length !== stride.length
        ) {
          throw new InputError(
            `${path}: a tensor rebuild call with malformed arguments (expected storage, offset, size, stride)`,
          );
        }
        const dtypeArg = v3 ? args[6] : null;
        const dtype = dtypeArg instanceof PickleGlobal ? TORCH_DTYPES[dtypeArg.name] : storage.dtype;
        if (!dtype) throw new InputError(`${path}: a tensor with an unsupported element type`);
        return { storage, offset, size, stride, dtype };
      };
    const root = unpickle(
      zip.read(pkl),
      {
        findClass(module, name) {
          if (module === 'torch._utils' && name === '_rebuild_tensor_v2') return rebuild(false);
          if (module === 'torch._utils' && name === '_rebuild_tensor_v3') return rebuild(true);
          if (module === 'torch._utils' && name === '_rebuild_parameter') return (data: unknown) => data;
          if (module === 'collections' && name === 'OrderedDict') return () => new Map();
          return new PickleGlobal(module, name);
        },
        persistentLoad(pid) {
          if (!Array.isArray(pid) || pid.length < 5)
            throw new InputError(
              `${path}: malformed persistent id (expected a 5-tuple ('storage', type, key, location, numel))`,
            );
          const [kind, type, key, , numel] = pid as [string, unknown, string, string, number];
          if (kind !== 'storage')
            throw new InputError(`${path}: unknown persistent id kind ${JSON.stringify(kind)?.slice(0, 40)}`);
          if ((typeof key !== 'string' && typeof key !== 'number') || !Number.isSafeInteger(numel) || numel < 0) {
            throw new InputError(
              `${path}: malformed storage persistent id (key ${JSON.stringify(key)?.slice(0, 40)}, numel ${JSON.stringify(numel)?.slice(0, 40)})`,
            );
          }
          const typeName = type instanceof PickleGlobal ? type.name : '';
          return { dtype: STORAGE_DTYPES[typeName] ?? null, key: String(key), numel } satisfies StorageRef;
        },
      },
      path,
    );
    const dict = unwrap(root, path);
    for (const [name, value] of dict) {
      if (typeof name !== 'string' || !isRebuilt(value)) continue;
      tensors.set(name, describe(zip, prefix, name, value, path));
    }
    return { tensors, close: () => zip.close() };
  } catch (err) {
    zip.close();
    throw err;
  }
}

function openArchive(path: string): ZipArchive {
  try {
    return new ZipArchive(path);
  } catch (err) {
    if (err instanceof InputError && /not a valid zip/.test(err.message) && !startsWithZipMagic(path)) {
      throw new InputError(
        `${path}: not a torch zip archive (torch < 1.6 legacy format?): re-save it with a current torch.save`,
      );
    }
    throw err;
  }
}

function startsWithZipMagic(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b.toString('latin1') === 'PK';
  } finally {
    closeSync(fd);
  }
}

function isStorageRef(v: unknown): v is StorageRef {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as StorageRef).key === 'string' &&
    Number.isSafeInteger((v as StorageRef).numel)
  );
}

interface Rebuilt {
  storage: StorageRef;
  offset: number;
  size: number[];
  stride: number[];
  dtype: DType;
}

function isRebuilt(v: unknown): v is Rebuilt {
  return typeof v === 'object' && v !== null && 'storage' in v && 'stride' in v;
}

function unwrap(root: unknown, path: string): Map<unknown, unknown> {
  if (!(root instanceof Map))
    throw new InputError(`${path}: the pickle holds no dict of tensors (expected a state dict)`);
  const inner = root.get('state_dict');
  return inner instanceof Map && ![...root.values()].some(isRebuilt) ? inner : root;
}

function describe(zip: ZipArchive, prefix: string, name: string, t: Rebuilt, path: string): TorchTensor {
  const what = `${path}: tensor ${name}`;
  const n = t.size.reduce((a, b) => a * b, 1);
  const order = layoutOf(t.size, t.stride);
  if (!order)
    throw new InputError(
      `${what}: strides [${t.stride}] for shape [${t.size}] are not contiguous (re-save it with .contiguous())`,
    );
  if (t.offset + n > t.storage.numel)
    throw new InputError(`${what}: elements [${t.offset}, ${t.offset + n}) outside its storage of ${t.storage.numel}`);
  const member = `${prefix}data/${t.storage.key}`;
  const el = DTYPE_BYTES[t.dtype];
  const entry = zip.entry(member);
  if (entry.size < t.storage.numel * el)
    throw new InputError(`${what}: storage ${member} has ${entry.size} bytes, expected ${t.storage.numel * el}`);
  const base = t.offset * el;
  return { name, dtype: t.dtype, shape: t.size, order, read: (b, e) => zip.read(member, base + b, base + e) };
}

/** 'C' or 'F' when the strides describe a dense block in that order (size-1 axes are free), else null. */
function layoutOf(size: number[], stride: number[]): 'C' | 'F' | null {
  const dense = (axes: number[]) => {
    let expect = 1;
    for (const a of axes) {
      if (size[a] !== 1 && stride[a] !== expect) return false;
      expect *= size[a];
    }
    return true;
  };
  const idx = size.map((_, i) => i);
  if (dense([...idx].reverse())) return 'C';
  return dense(idx) ? 'F' : null;
}
