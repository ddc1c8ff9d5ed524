import { InputError } from '../errors.ts';

/**
 * A minimal unpickler for the pickles inside torch.save archives: protocols 2–5, the opcodes Python emits
 * for dicts, lists, tuples, numbers, strings, globals, REDUCE/BUILD and persistent ids. It executes
 * nothing: globals resolve through `findClass`, which decides what each (module, name) means.
 */

/** A global that `findClass` did not recognise; kept as data so unknown metadata does not break loading. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}

/** The result of REDUCE on a global that findClass did not turn into a function. */
export class PickleReduced {
  state: unknown = undefined;
  constructor(
    readonly callable: unknown,
    readonly args: unknown[],
  ) {}
}

export interface UnpickleHooks {
  /** Resolves GLOBAL/STACK_GLOBAL; return a function to make REDUCE call it, anything else to keep as data. */
  findClass(module: string, name: string): unknown;
  /** Resolves BINPERSID (torch: storage references). */
  persistentLoad(pid: unknown): unknown;
}

const MARK = Symbol('mark');

/** Longest LONG1/LONG4 integer read, in bytes: past 128 bytes a float64 is ±Infinity anyway. */
const MAX_LONG_BYTES = 1024;

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, what: string): unknown {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new InputError(`${what}: cannot read the pickle: ${why}`);
  };
  let pos = 0;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const pop = () => (stack.length ? stack.pop() : fail(`stack underflow at byte ${pos}`));
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail(`no MARK at byte ${pos}`);
    const items = stack.slice(i + 1);
    stack.length = i;
    return items;
  };
  const need = (n: number) => {
    if (pos + n > buf.length) fail('truncated');
  };
  const u8 = () => {
    need(1);
    return buf[pos++];
  };
  const u16 = () => {
    need(2);
    pos += 2;
    return buf.readUInt16LE(pos - 2);
  };
  const u32 = () => {
    need(4);
    pos += 4;
    return buf.readUInt32LE(pos - 4);
  };
  const text = (n: number, enc: BufferEncoding) => {
    need(n);
    pos += n;
    return buf.toString(enc, pos - n, pos);
  };
  const raw = (n: number) => {
    need(n);
    pos += n;
    return buf.subarray(pos - n, pos);
  };
  const line = () => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = buf.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  const setItems = (target: unknown, items: unknown[]) => {
    if (target instanceof Map) for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
    else fail('SETITEM(S) on a non-dict');
  };
  const reduce = (callable: unknown, args: unknown) => {
    const a = Array.isArray(args) ? args : fail('REDUCE arguments are not a tuple');
    return typeof callable === 'function' ? callable(...a) : new PickleReduced(callable, a);
  };
  // LONG1/LONG4: a little-endian two's-complement integer of n bytes. Torch writes small ones; a huge one
  // (a LONG4 can claim 4 GiB) is refused, and the rest decoded through one hex string: linear in n, where
  // shifting a BigInt byte by byte took quadratic time (a 256 KiB integer hung the reader for minutes).
  const longFrom = (b: Buffer): number => {
    if (b.length === 0) return 0;
    if (b.length > MAX_LONG_BYTES)
      fail(`an integer of ${b.length} bytes at byte ${pos - b.length} (at most ${MAX_LONG_BYTES} are read)`);
    let v = BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return Number(v);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        raw(8);
        break; // FRAME: framing is transparent when the whole pickle is in memory
      case 0x2e:
        return pop(); // STOP
      case 0x28:
        stack.push(MARK);
        break; // MARK
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x8f:
        stack.push(new Set());
        break; // EMPTY_SET
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4a:
        stack.push(u32() | 0);
        break; // BININT (signed)
      case 0x8a:
        stack.push(longFrom(raw(u8())));
        break; // LONG1
      case 0x8b:
        stack.push(longFrom(raw(u32())));
        break; // LONG4
      case 0x49: {
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : Number(s));
        break;
      } // INT
      case 0x4c:
        stack.push(Number(line().replace(/L$/, '')));
        break; // LONG
      case 0x47: {
        need(8);
        pos += 8;
        stack.push(buf.readDoubleBE(pos - 8));
        break;
      } // BINFLOAT
      case 0x46:
        stack.push(Number(line()));
        break; // FLOAT
      case 0x58:
        stack.push(text(u32(), 'utf8'));
        break; // BINUNICODE
      case 0x8c:
        stack.push(text(u8(), 'utf8'));
        break; // SHORT_BINUNICODE
      case 0x8d: {
        need(8);
        const n = Number(buf.readBigUInt64LE(pos));
        pos += 8;
        stack.push(text(n, 'utf8'));
        break;
      } // BINUNICODE8
      case 0x54:
        stack.push(raw(u32()));
        break; // BINSTRING
      case 0x55:
        stack.push(raw(u8()));
        break; // SHORT_BINSTRING
      case 0x42:
        stack.push(raw(u32()));
        break; // BINBYTES
      case 0x43:
        stack.push(raw(u8()));
        break; // SHORT_BINBYTES
      case 0x8e: {
        need(8);
        const n = Number(buf.readBigUInt64LE(pos));
        pos += 8;
        stack.push(raw(n));
        break;
      } // BINBYTES8
      case 0x85:
        stack.push([pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        stack.push([pop(), b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      } // TUPLE3
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x64: {
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      } // DICT
      case 0x61: {
        const v = pop();
        (stack[stack.length - 1] as unknown[]).push(v);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        (stack[stack.length - 1] as unknown[]).push(...items);
        break;
      } // APPENDS
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(stack[stack.length - 1], [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(stack[stack.length - 1], items);
        break;
      } // SETITEMS
      case 0x90: {
        const items = popMark();
        const s = stack[stack.length - 1] as Set<unknown>;
        for (const v of items) s.add(v);
        break;
      } // ADDITEMS
      case 0x63: {
        const mod = line();
        stack.push(hooks.findClass(mod, line()));
        break;
      } // GLOBAL
      case 0x93: {
        const name = pop() as string;
        stack.push(hooks.findClass(pop() as string, name));
        break;
      } // STACK_GLOBAL
      case 0x52: {
        const args = pop();
        stack.push(reduce(pop(), args));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop();
        stack.push(reduce(pop(), args));
        break;
      } // NEWOBJ
      case 0x62: {
        // BUILD: set state; OrderedDict state only carries torch's _metadata, which we do not need
        const state = pop();
        const obj = stack[stack.length - 1];
        if (obj instanceof PickleReduced) obj.state = state;
        break;
      }
      case 0x51:
        stack.push(hooks.persistentLoad(pop()));
        break; // BINPERSID
      case 0x71:
        memo.set(u8(), stack[stack.length - 1]);
        break; // BINPUT
      case 0x72:
        memo.set(u32(), stack[stack.length - 1]);
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, stack[stack.length - 1]);
        break; // MEMOIZE
      case 0x70:
        memo.set(Number(line()), stack[stack.length - 1]);
        break; // PUT
      case 0x68: {
        const k = u8();
        if (!memo.has(k)) fail(`memo ${k} missing`);
        stack.push(memo.get(k));
        break;
      } // BINGET
      case 0x6a: {
        const k = u32();
        if (!memo.has(k)) fail(`memo ${k} missing`);
        stack.push(memo.get(k));
        break;
      } // LONG_BINGET
      case 0x67: {
        const k = Number(line());
        if (!memo.has(k)) fail(`memo ${k} missing`);
        stack.push(memo.get(k));
        break;
      } // GET
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(stack[stack.length - 1]);
        break; // DUP
      default:
        fail(`unsupported opcode 0x${op.toString(16)} at byte ${pos - 1}`);
    }
  }
}
