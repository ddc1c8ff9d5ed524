import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bf16ToF32, f16ToF32 } from '../../lib/io/dtype.ts';
import { SafetensorsFile, writeSafetensors } from '../../lib/io/safetensors.ts';

const dir = mkdtempSync(join(tmpdir(), 'st-'));

test('safetensors: write then read back, whole and by rows', () => {
  const path = join(dir, 'a.safetensors');
  const data = Float32Array.from({ length: 12 }, (_, i) => i * 0.5 - 2);
  writeSafetensors(path, { w: { shape: [4, 3], data }, b: { shape: [2], data: new Float32Array([1, 2]) } });
  const f = new SafetensorsFile(path);
  assert.deepEqual(f.names().sort(), ['b', 'w']);
  assert.deepEqual([...f.read('w').data], [...data]);
  const rows = f.read('w', [1, 3]);
  assert.deepEqual(rows.shape, [2, 3]);
  assert.deepEqual([...rows.data], [...data.slice(3, 9)]);
  assert.throws(() => f.read('missing'), /tensor missing not found/);
  f.close();
});

test('safetensors: a truncated file is a clear error naming the tensor', () => {
  const path = join(dir, 'b.safetensors');
  writeSafetensors(path, { big: { shape: [100], data: new Float32Array(100) } });
  truncateSync(path, readFileSync(path).length - 10);
  assert.throws(
    () => new SafetensorsFile(path),
    /tensor big: data ends at byte \d+ but the file has \d+ bytes \(truncated\)/,
  );
});

test('safetensors: a bad header is a clear error', () => {
  const path = join(dir, 'c.safetensors');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(5n);
  writeFileSync(path, Buffer.concat([len, Buffer.from('{oops')]));
  assert.throws(() => new SafetensorsFile(path), /c\.safetensors: not a valid safetensors file: header is not JSON/);
});

test('dtype: bf16 and f16 widen exactly (values from IEEE tables)', () => {
  // bf16 0x3F80 = 1.0, 0xC040 = -3.0, 0x3E20 = 0.15625; f16 0x3C00 = 1, 0xC000 = -2, 0x0001 = 2^-24, 0x7BFF = 65504
  assert.deepEqual([...bf16ToF32(new Uint16Array([0x3f80, 0xc040, 0x3e20]))], [1, -3, 0.15625]);
  assert.deepEqual([...f16ToF32(new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7bff]))], [1, -2, 2 ** -24, 65504]);
});
