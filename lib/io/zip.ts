import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { constants, inflateRawSync } from 'node:zlib';
import { InputError } from '../errors.ts';

/** One member of a zip archive, located from the central directory. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated. */
  method: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const U32_MAX = 0xffffffff;
/** Compression ratio past which a deflated member is refused (zip-bomb defences use similar bounds). */
export const MAX_RATIO = 50;
/** Members up to this size are exempt from the ratio check (a small zero vector compresses very well). */
const RATIO_EXEMPT = 1 << 20;

/**
 * A zip archive read in place (torch.save files, numpy .npz): the central directory is parsed at open;
 * stored members are read by byte range straight from the file, deflated ones are inflated on demand.
 * ZIP64 sizes and offsets are honoured (members and archives over 4 GiB).
 */
export class ZipArchive {
  readonly entries = new Map<string, ZipEntry>();
  private readonly fd: number;
  private readonly size: number;
  private readonly dataStart = new Map<string, number>();
  private inflated: { name: string; bytes: Buffer } | null = null;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (err) {
      throw new InputError(`${path}: cannot open (${(err as Error).message})`);
    }
    this.size = fstatSync(this.fd).size;
    try {
      this.readCentralDirectory();
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  private fail(why: string): never {
    throw new InputError(`${this.path}: not a valid zip archive: ${why}`);
  }

  private pread(position: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let off = 0;
    while (off < length) {
      const n = readSync(this.fd, buf, off, Math.min(length - off, 1 << 30), position + off);
      if (n === 0) this.fail(`unexpected end of file at byte ${position + off} (truncated?)`);
      off += n;
    }
    return buf;
  }

  private readCentralDirectory(): void {
    // The end-of-central-directory record sits in the last 22 + up to 65,535 (comment) bytes.
    const tailLen = Math.min(this.size, 22 + 65535);
    if (tailLen < 22) this.fail(`${this.size} bytes, too short`);
    const tail = this.pread(this.size - tailLen, tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--)
      if (tail.readUInt32LE(i) === EOCD_SIG) {
        eocd = i;
        break;
      }
    if (eocd < 0) this.fail('no end-of-central-directory record (truncated, or not a zip)');
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    const locator = eocd - 20;
    if (locator >= 0 && tail.readUInt32LE(locator) === EOCD64_LOCATOR_SIG) {
      const rec = this.pread(Number(tail.readBigUInt64LE(locator + 8)), 56);
      if (rec.readUInt32LE(0) !== EOCD64_SIG) this.fail('bad ZIP64 end-of-central-directory record');
      count = Number(rec.readBigUInt64LE(32));
      cdSize = Number(rec.readBigUInt64LE(40));
      cdOffset = Number(rec.readBigUInt64LE(48));
    }
    if (cdOffset + cdSize > this.size) this.fail(`central directory ends past the file end (truncated?)`);
    const cd = this.pread(cdOffset, cdSize);
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL_SIG)
        this.fail(`central directory entry ${i} is corrupt`);
      const flags = cd.readUInt16LE(p + 8);
      const method = cd.readUInt16LE(p + 10);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let localHeaderOffset = cd.readUInt32LE(p + 42);
      const name = cd.toString(flags & 0x800 ? 'utf8' : 'latin1', p + 46, p + 46 + nameLen);
      // ZIP64 extra field (id 1): the 64-bit values, in this order, for those whose 32-bit field is saturated.
      let e = p + 46 + nameLen;
      const extraEnd = e + extraLen;
      while (e + 4 <= extraEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (id === 1) {
          let q = e + 4;
          const next = () => {
            const v = Number(cd.readBigUInt64LE(q));
            q += 8;
            return v;
          };
          if (size === U32_MAX) size = next();
          if (compressedSize === U32_MAX) compressedSize = next();
          if (localHeaderOffset === U32_MAX) localHeaderOffset = next();
        }
        e += 4 + len;
      }
      if (method !== 0 && method !== 8)
        this.fail(`member ${name}: compression method ${method} (expected 0 stored or 8 deflated)`);
      const entry = { name, method, compressedSize, size, localHeaderOffset };
      if (method === 8) this.checkRatio(entry);
      this.entries.set(name, entry);
      p = extraEnd + commentLen;
    }
  }

  /** Byte position in the file where a member's (possibly compressed) data begins. */
  private start(entry: ZipEntry): number {
    let s = this.dataStart.get(entry.name);
    if (s === undefined) {
      const h = this.pread(entry.localHeaderOffset, 30);
      if (h.readUInt32LE(0) !== LOCAL_SIG) this.fail(`member ${entry.name}: bad local header`);
      s = entry.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
      if (s + entry.compressedSize > this.size) this.fail(`member ${entry.name} ends past the file end (truncated?)`);
      this.dataStart.set(entry.name, s);
    }
    return s;
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new InputError(`${this.path}: member ${name} not found in the archive`);
    return e;
  }

  /**
   * Bytes [begin, end) of a member's uncompressed content (whole member by default). A deflated member is
   * never inflated past what its directory entry declares (a zip bomb stops there), and a prefix read (a
   * header) inflates only about as much as it needs.
   */
  read(name: string, begin = 0, end?: number): Uint8Array {
    const e = this.entry(name);
    const stop = end ?? e.size;
    if (begin < 0 || stop > e.size || begin > stop)
      throw new Error(`${this.path}: member ${name}: range [${begin}, ${stop}) outside its ${e.size} bytes`);
    if (e.method === 0) return this.pread(this.start(e) + begin, stop - begin);
    if (this.inflated?.name !== name && stop < e.size) return this.inflatePrefix(e, stop).subarray(begin, stop);
    if (this.inflated?.name !== name) {
      this.inflated = null; // release the previous member before inflating the next
      let bytes: Buffer;
      try {
        // maxOutputLength: zlib stops (and throws) as soon as the output passes the declared size
        bytes = inflateRawSync(this.pread(this.start(e), e.compressedSize), { maxOutputLength: Math.max(1, e.size) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
          this.fail(`member ${name}: inflates past the ${e.size} bytes its directory entry declares (a zip bomb?)`);
        this.fail(`member ${name}: cannot inflate (${(err as Error).message})`);
      }
      if (bytes.length !== e.size)
        this.fail(`member ${name}: inflated to ${bytes.length} bytes, directory says ${e.size}`);
      this.inflated = { name, bytes };
    }
    return this.inflated.bytes.subarray(begin, stop);
  }

  /**
   * Refuses a deflated member that claims to inflate more than MAX_RATIO times its compressed size (past
   * RATIO_EXEMPT bytes): weights do not compress like that (float data barely compresses at all), zip
   * bombs do; an honest 6 GB member of zeros would otherwise be inflated, slowly, for nothing.
   */
  private checkRatio(e: ZipEntry): void {
    if (e.size > RATIO_EXEMPT && e.size > MAX_RATIO * e.compressedSize)
      this.fail(
        `member ${e.name}: declares ${e.size} bytes from ${e.compressedSize} compressed (${Math.round(e.size / Math.max(1, e.compressedSize))}:1, past the ${MAX_RATIO}:1 plausible for weights; a zip bomb?)`,
      );
  }

  /**
   * The first `need` bytes of a deflated member, inflating a growing prefix of its compressed bytes (4 KiB,
   * doubling). Deflate expands at most ~1032:1, so each try's output is bounded by its input, and the first
   * try that yields `need` bytes ends the search: a bomb costs megabytes, not its inflated size.
   */
  private inflatePrefix(e: ZipEntry, need: number): Buffer {
    const start = this.start(e);
    for (let take = Math.min(4096, e.compressedSize); ; take = Math.min(take * 2, e.compressedSize)) {
      let out: Buffer;
      try {
        out = inflateRawSync(this.pread(start, take), {
          finishFlush: constants.Z_SYNC_FLUSH,
          maxOutputLength: Math.max(need, 1032 * take),
        });
      } catch (err) {
        this.fail(`member ${e.name}: cannot inflate (${(err as Error).message})`);
      }
      if (out.length >= need) return out.subarray(0, need);
      if (take === e.compressedSize)
        this.fail(`member ${e.name}: inflated to ${out.length} bytes, directory says ${e.size}`);
    }
  }

  close(): void {
    this.inflated = null;
    closeSync(this.fd);
  }
}
