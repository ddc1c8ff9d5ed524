// A zip bomb as a Gemma Scope params.npz: 1.1 MB on disk, its W_enc member inflating to 1 GiB while its
// directory entry declares the 64 KiB its .npy header's shape needs. Loading it must fail with an
// InputError and bounded memory: the child process's peak RSS is measured. An honest member whose
// compression ratio no weights reach (zeros) is refused when the archive opens.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { constants, deflateRawSync } from 'node:zlib';
import { npyBytes, zipBytes } from '../helpers/zip.ts';
import { assertExit, ROOT, runTs } from '../support/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'zipbomb-'));
const D_IN = 64;
const D_SAE = 256;
const BOMB_MIB = 1024;

function bombNpz(path: string): void {
  const header = npyBytes([D_IN, D_SAE]).subarray(0, 128); // the .npy header alone (128 bytes)
  const flush = { finishFlush: constants.Z_FULL_FLUSH };
  const zeros = deflateRawSync(Buffer.alloc(1 << 20), flush); // 1 MiB of zeros, a self-contained non-final block
  const stream = Buffer.concat([
    deflateRawSync(header, flush),
    ...Array(BOMB_MIB).fill(zeros),
    deflateRawSync(Buffer.alloc(0)),
  ]);
  const normal = (name: string, shape: number[]) => ({ name: `${name}.npy`, data: npyBytes(shape) });
  writeFileSync(
    path,
    zipBytes([
      { name: 'W_enc.npy', data: stream, deflated: true, declaredSize: 128 + D_IN * D_SAE * 4 },
      normal('W_dec', [D_SAE, D_IN]),
      normal('b_enc', [D_SAE]),
      normal('b_dec', [D_IN]),
      normal('threshold', [D_SAE]),
    ]),
  );
}

/** Loads the SAE in a child process; returns its error message and peak RSS in MiB. */
function loadInChild(path: string): { error: string; peakMiB: number } {
  const code = `import { loadSae } from ${JSON.stringify(join(ROOT, 'lib/sae/index.ts'))};
let error = '';
try { loadSae(${JSON.stringify(path)}); } catch (e) { error = e.name + ': ' + e.message; }
console.log(JSON.stringify({ error, peakMiB: process.resourceUsage().maxRSS / 1024 }));`;
  const r = runTs(code);
  assertExit(r, 0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

test('zip bomb params.npz: refused as an InputError with peak RSS far below the inflated size', () => {
  const bomb = join(tmp, 'params.npz');
  bombNpz(bomb);
  const { error, peakMiB } = loadInChild(bomb);
  assert.match(error, /^InputError: .*member W_enc\.npy: inflates past the 65664 bytes its directory entry declares/);
  assert.ok(peakMiB < 400, `peak RSS ${peakMiB.toFixed(0)} MiB (the member inflates to ${BOMB_MIB} MiB)`);
  console.log(`# zip bomb: peak RSS ${peakMiB.toFixed(0)} MiB`);
});

test('a well-formed deflated params.npz still loads (prefix inflate of the header, whole member for the data)', () => {
  const path = join(tmp, 'ok.npz');
  const deflated = (name: string, shape: number[]) => {
    const bytes = npyBytes(
      shape,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7919) % 13) / 13),
    );
    return { name: `${name}.npy`, data: deflateRawSync(bytes), deflated: true, declaredSize: bytes.length };
  };
  writeFileSync(
    path,
    zipBytes([
      deflated('W_enc', [D_IN, D_SAE]),
      deflated('W_dec', [D_SAE, D_IN]),
      deflated('b_enc', [D_SAE]),
      deflated('b_dec', [D_IN]),
      deflated('threshold', [D_SAE]),
    ]),
  );
  const { error } = loadInChild(path);
  assert.equal(error, '');
});

test('an honest npz member of zeros, 1000 times smaller compressed, is refused by its ratio when the archive opens', () => {
  const path = join(tmp, 'zeros.npz');
  const shape = [4096, 16384]; // 256 MiB of f32 zeros
  const header = npyBytes(shape).subarray(0, 128);
  const flush = { finishFlush: constants.Z_FULL_FLUSH };
  const zeros = deflateRawSync(Buffer.alloc(1 << 20), flush);
  const stream = Buffer.concat([
    deflateRawSync(header, flush),
    ...Array(256).fill(zeros),
    deflateRawSync(Buffer.alloc(0)),
  ]);
  writeFileSync(
    path,
    zipBytes([
      { name: 'W_enc.npy', data: stream, deflated: true, declaredSize: 128 + 256 * (1 << 20) },
      { name: 'W_dec.npy', data: npyBytes([D_SAE, D_IN]) },
      { name: 'b_enc.npy', data: npyBytes([D_SAE]) },
      { name: 'b_dec.npy', data: npyBytes([D_IN]) },
      { name: 'threshold.npy', data: npyBytes([D_SAE]) },
    ]),
  );
  const { error } = loadInChild(path);
  assert.match(
    error,
    /^InputError: .*zeros\.npz: not a valid zip archive: member W_enc\.npy: declares 268435584 bytes from \d+ compressed \(\d+:1, past the 50:1 plausible for weights; a zip bomb\?\)/,
  );
});
