// A Llama-3.3-70B-sized SAE (8,192 × 65,536, bf16: 1 GiB per matrix, 2 GiB in f32) generated in memory,
// encoded on WASM in latent blocks; a few latents are checked against a direct dot product in JS.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { openBackend } from '../../lib/backend.ts';
import { bf16ToF32 } from '../../lib/io/dtype.ts';
import { Sae, WeightMatrix, decode, encodeSparse, makeIntervention } from '../../lib/sae/index.ts';

const D_IN = 8192,
  D_SAE = 65536,
  T = 3;

before(async () => {
  await openBackend('wasm', () => {});
});

/** Deterministic bf16 weights of magnitude 2^-10..2^-6 with random sign and mantissa (xorshift32, seeded). */
function randomBf16(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s & 0x8000) | ((117 + ((s >>> 8) % 5)) << 7) | (s & 0x7f);
  }
  return out;
}

test('sae large: 8,192 × 65,536 bf16 SAE encodes in blocks on WASM; spot checks against a direct dot product', async () => {
  const data = randomBf16(D_SAE * D_IN, 7);
  const enc = new WeightMatrix('BF16', D_IN, D_SAE, data);
  const dec = new WeightMatrix('BF16', D_SAE, D_IN, data);
  const bEnc = Float32Array.from({ length: D_SAE }, (_, j) => ((j * 37) % 101) / 1000 - 0.06);
  const bDec = Float32Array.from({ length: D_IN }, (_, i) => ((i * 13) % 17) / 100);
  // Encoder and decoder share one buffer to keep the test's memory at 1 GiB; the maths does not care.
  const sae = new Sae(
    {
      encoder: enc,
      decoder: dec,
      bDec,
      activation: { kind: 'relu' },
      vectors: { b_enc: bEnc },
      applyBDecToInput: false,
      info: { format: 'memory', path: 'synthetic-8192x65536', weightDtype: 'BF16', files: [] },
    },
    { residentBytes: 256 << 20 }, // 4 of 32 blocks resident, the rest streamed per call
  );
  assert.equal(sae.nBlocks, 32);
  const x = Float32Array.from({ length: T * D_IN }, (_, i) => Math.sin(i * 0.7) * 0.5);
  const h = tf.tensor2d(x, [T, D_IN]);
  const codes = await encodeSparse(sae, h);

  const widen = (bits: number) => bf16ToF32(Uint16Array.of(bits))[0];
  const direct = (t: number, j: number) => {
    let s = bEnc[j];
    for (let i = 0; i < D_IN; i++) s += x[t * D_IN + i] * widen(data[i * D_SAE + j]); // W_enc[i, j]
    return Math.max(0, s);
  };
  const decRow = (j: number) => bf16ToF32(data.subarray(j * D_IN, (j + 1) * D_IN)); // W_dec[j]
  const code = (t: number, j: number) => {
    for (let p = codes.rowPtr[t]; p < codes.rowPtr[t + 1]; p++) if (codes.latents[p] === j) return codes.values[p];
    return 0;
  };
  // latents in resident and streamed blocks, block edges, and the first few active ones per token
  const probe = [0, 1, 2047, 2048, 8191, 8192, 30000, 45678, 65534, 65535];
  for (let t = 0; t < T; t++) {
    const active = Array.from(codes.latents.subarray(codes.rowPtr[t], codes.rowPtr[t] + 5));
    assert.ok(codes.rowPtr[t + 1] - codes.rowPtr[t] > 1000, 'a ReLU SAE with these weights activates many latents');
    for (const j of [...probe, ...active]) {
      const want = direct(t, j);
      assert.ok(
        Math.abs(code(t, j) - want) <= 1e-4 * Math.max(1, Math.abs(want)),
        `token ${t} latent ${j}: ${code(t, j)} vs ${want}`,
      );
    }
  }

  // decode only gathers active rows: check a few output dimensions of token 0 against a direct sum
  const recon = await decode(sae, codes).data();
  for (const d of [0, 4095, 8191]) {
    let s = bDec[d];
    for (let p = codes.rowPtr[0]; p < codes.rowPtr[1]; p++) {
      s += codes.values[p] * widen(data[codes.latents[p] * D_IN + d]);
    }
    assert.ok(Math.abs(recon[d] - s) <= 1e-3 * Math.max(1, Math.abs(s)), `decode dim ${d}: ${recon[d]} vs ${s}`);
  }

  // clamp 0 on an active latent removes exactly its decoder row times its code
  const j = codes.latents[codes.rowPtr[0]];
  const out = await makeIntervention(sae, [{ latent: j, value: 0, mode: 'clamp' }])(h);
  const diff = await tf.sub(h, out).data();
  const row = decRow(j);
  for (const d of [0, 100, 8191]) assert.ok(Math.abs(diff[d] - code(0, j) * row[d]) <= 1e-5, `clamp dim ${d}`);
  tf.dispose([h, out]);
  sae.dispose();
});
