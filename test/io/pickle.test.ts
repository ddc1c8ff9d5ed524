// The pickle reader on hostile integers: LONG1/LONG4 values decoded as Python's pickle encodes them
// (little-endian two's complement, checked by hand), and a 256 KiB LONG4 integer refused at once instead
// of decoded in quadratic time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import { unpickle } from '../../lib/io/pickle.ts';

const hooks = { findClass: () => null, persistentLoad: () => null };
/** PROTO 2, one LONG1 (n < 256) or LONG4 opcode with `bytes`, STOP. */
function longPickle(bytes: number[] | Buffer, long4 = false): Buffer {
  const n = bytes.length;
  const len = long4 ? Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24]) : Buffer.from([n]);
  return Buffer.concat([Buffer.from([0x80, 2, long4 ? 0x8b : 0x8a]), len, Buffer.from(bytes), Buffer.from([0x2e])]);
}

test('LONG1 and LONG4 integers decode to their values (two’s complement, little-endian)', () => {
  // pickle.encode_long: 2**40 → 00 00 00 00 00 01; -1 → ff; -256 → 00 ff; 255 → ff 00; 0 → (no bytes)
  const cases: [number[], number][] = [
    [[0, 0, 0, 0, 0, 1], 2 ** 40],
    [[0xff], -1],
    [[0x00, 0xff], -256],
    [[0xff, 0x00], 255],
    [[], 0],
    [[0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09], Number(0x090807060504030201n)],
  ];
  for (const [bytes, value] of cases) {
    assert.equal(unpickle(longPickle(bytes), hooks, 't'), value, `LONG1 ${bytes}`);
    assert.equal(unpickle(longPickle(bytes, true), hooks, 't'), value, `LONG4 ${bytes}`);
  }
});

test('a 256 KiB LONG4 integer is refused as bad input, naming its size (it hung the reader for minutes)', () => {
  const huge = Buffer.alloc(256 << 10, 0x5a);
  assert.throws(
    () => unpickle(longPickle(huge, true), hooks, 'model.pth: data.pkl'),
    (e: Error) =>
      e instanceof InputError &&
      /model\.pth: data\.pkl: cannot read the pickle: an integer of 262144 bytes at byte 7 \(at most 1024 are read\)/.test(
        e.message,
      ),
  );
});
