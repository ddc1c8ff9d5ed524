// A minimal zip writer for hostile-file tests: members stored or given as raw deflate bytes, with the
// uncompressed size the directory declares chosen by the test (it may lie, as a zip bomb's does).
import { crc32 } from 'node:zlib';

export interface Member {
  name: string;
  /** Stored bytes, or the raw deflate stream of a deflated member. */
  data: Uint8Array;
  deflated?: boolean;
  /** Uncompressed size written in the headers (default: data.length). */
  declaredSize?: number;
}

export function zipBytes(members: Member[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const m of members) {
    const name = Buffer.from(m.name, 'utf8');
    const size = m.declaredSize ?? m.data.length;
    const crc = m.deflated ? 0 : crc32(m.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(m.deflated ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(m.data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(m.deflated ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(m.data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, Buffer.from(m.data));
    centrals.push(central, name);
    offset += 30 + name.length + m.data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** A `.npy` file: header for `shape` of little-endian f32, then `data`. */
export function npyBytes(shape: number[], data: Float32Array | null = null): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += `${' '.repeat(63 - ((10 + header.length) % 64))}\n`;
  const pre = Buffer.alloc(10);
  pre.writeUInt8(0x93, 0);
  pre.write('NUMPY', 1, 'latin1');
  pre.writeUInt8(1, 6);
  pre.writeUInt16LE(header.length, 8);
  const n = shape.reduce((a, b) => a * b, 1);
  const body = data ?? new Float32Array(n);
  return Buffer.concat([
    pre,
    Buffer.from(header, 'latin1'),
    Buffer.from(body.buffer, body.byteOffset, body.byteLength),
  ]);
}
