import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, fromFloat32 } from '../../lib/io/dtype.ts';
import { SafetensorsFile, writeSafetensors, writeSafetensorsStreamed } from '../../lib/io/safetensors.ts';

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

test('dtype: f32 narrows to bf16 and f16 exactly where representable, halfway cases to even, past the range to Inf', () => {
  for (const [widen, narrow, name] of [
    [bf16ToF32, f32ToBf16, 'bf16'],
    [f16ToF32, f32ToF16, 'f16'],
  ] as const) {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const back = narrow(widen(all));
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(widen(new Uint16Array([h]))[0])) assert.ok(Number.isNaN(widen(back.subarray(h, h + 1))[0]));
      else assert.equal(back[h], h, `${name} 0x${h.toString(16)}`);
    }
  }
  const f16 = (x: number) => f32ToF16(new Float32Array([x]))[0];
  const bf16 = (x: number) => f32ToBf16(new Float32Array([x]))[0];
  // f16: 1 + 2^-11 is halfway between 1 (0x3C00) and 1 + 2^-10 (0x3C01): to the even one; 1 + 3·2^-11 up to 0x3C02
  assert.deepEqual([f16(1 + 2 ** -11), f16(1 + 3 * 2 ** -11), f16(1 + 2 ** -11 + 2 ** -20)], [0x3c00, 0x3c02, 0x3c01]);
  // 65520 is halfway between 65504 and 2^16: to even, which is Inf; subnormals: 2^-25 → 0, 3·2^-25 → 2·2^-24
  assert.deepEqual(
    [f16(65519), f16(65520), f16(-1e9), f16(2 ** -25), f16(3 * 2 ** -25), f16(-(2 ** -24))],
    [0x7bff, 0x7c00, 0xfc00, 0, 2, 0x8001],
  );
  // bf16 keeps 7 mantissa bits: 1 + 2^-8 → 1, 1 + 3·2^-8 → 1 + 2^-6
  assert.deepEqual(
    [bf16(1 + 2 ** -8), bf16(1 + 3 * 2 ** -8), bf16(-3), bf16(3.4e38)],
    [0x3f80, 0x3f82, 0xc040, 0x7f80],
  );
});

test('safetensors: a streamed write of mixed dtypes reads back; a tensor of the wrong size leaves no file', () => {
  const path = join(dir, 'streamed.safetensors');
  const w = Float32Array.from({ length: 6 }, (_, i) => i - 2.5);
  writeSafetensorsStreamed(
    path,
    [
      { name: 'a', dtype: 'BF16', shape: [2, 3], bytes: () => fromFloat32(w, 'BF16', 'a') },
      { name: 'b', dtype: 'F16', shape: [6], bytes: () => fromFloat32(w, 'F16', 'b') },
      { name: 'c', dtype: 'F32', shape: [3], bytes: () => fromFloat32(w.subarray(1, 4), 'F32', 'c') },
    ],
    { format: 'pt' },
  );
  const f = new SafetensorsFile(path);
  assert.equal(f.metadata.format, 'pt');
  assert.deepEqual([...f.read('a').data], [...w]);
  assert.deepEqual([...f.read('b').data], [...w]);
  assert.deepEqual([...f.read('c').data], [-1.5, -0.5, 0.5]);
  f.close();
  const bad = join(dir, 'bad.safetensors');
  assert.throws(
    () => writeSafetensorsStreamed(bad, [{ name: 'x', dtype: 'F32', shape: [4], bytes: () => new Uint8Array(8) }]),
    /tensor x: 8 bytes, expected 16/,
  );
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.startsWith('bad')),
    [],
  );
});
