// Bad SAE input: clear InputErrors naming the file and the tensor or field.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { openBackend } from '../../lib/backend.ts';
import { InputError } from '../../lib/errors.ts';
import { SafetensorsFile, writeSafetensors, type F32Tensor } from '../../lib/io/safetensors.ts';
import { encodeSparse, loadSae, makeIntervention } from '../../lib/sae/index.ts';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'sae');
const dir = mkdtempSync(join(tmpdir(), 'sae-err-'));

before(async () => {
  await openBackend('wasm', () => {});
});

/** The tensors of a fixture SAE, for making broken variants. */
function tensorsOf(path: string): Record<string, F32Tensor> {
  const f = new SafetensorsFile(path);
  const out = Object.fromEntries(f.names().map((n) => [n, f.read(n)]));
  f.close();
  return out;
}

function rejects(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (err: unknown) => err instanceof InputError && pattern.test(err.message));
}

test('sae errors: missing tensor, wrong shape, non-float dtype name the file and tensor', () => {
  const base = tensorsOf(join(FIX, 'saelens_jumprelu', 'sae_weights.safetensors'));
  const missing = join(dir, 'missing.safetensors');
  const { b_dec: _drop, ...rest } = base;
  writeSafetensors(missing, rest);
  rejects(() => loadSae(missing), /missing\.safetensors: tensor b_dec not found/);

  const wrongShape = join(dir, 'shape.safetensors');
  writeSafetensors(wrongShape, { ...base, W_dec: { shape: [255, 64], data: base.W_dec.data.subarray(0, 255 * 64) } });
  rejects(
    () => loadSae(wrongShape),
    /shape\.safetensors: tensor W_dec: shape \[255,64\], expected \[d_sae, d_in\] = \[256,64\]/,
  );

  const noThreshold = join(dir, 'nothr.safetensors');
  const { threshold: _t, ...noThr } = base;
  writeSafetensors(noThreshold, noThr);
  rejects(
    () => loadSae(noThreshold, { activation: 'jumprelu' }),
    /nothr\.safetensors: tensor threshold or log_threshold not found, needed by a jumprelu SAE/,
  );

  // an int32 b_enc: rewrite the dtype in a copy's header (same byte count)
  const intPath = join(dir, 'int.safetensors');
  writeSafetensors(intPath, base);
  const bytes = readFileSync(intPath);
  const headerLen = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLen));
  header.b_enc.dtype = 'I32';
  const json = JSON.stringify(header).padEnd(headerLen, ' ');
  bytes.write(json, 8, 'utf8');
  writeFileSync(intPath, bytes);
  rejects(() => loadSae(intPath), /int\.safetensors: tensor b_enc: dtype I32, expected a floating type/);
});

test('sae errors: bad SAELens cfg.json fields are named', () => {
  const make = (name: string, cfg: Record<string, unknown>) => {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    copyFileSync(join(FIX, 'saelens_relu', 'sae_weights.safetensors'), join(d, 'sae_weights.safetensors'));
    writeFileSync(join(d, 'cfg.json'), JSON.stringify(cfg));
    return d;
  };
  const ok = { d_in: 64, d_sae: 256, architecture: 'standard', apply_b_dec_to_input: true };
  rejects(
    () => loadSae(make('matryoshka', { ...ok, architecture: 'matryoshka_batchtopk' })),
    /matryoshka.cfg\.json: field architecture is "matryoshka_batchtopk", expected .*"gated"/,
  );
  rejects(
    () => loadSae(make('gated-no-rmag', { ...ok, architecture: 'gated' })),
    /tensor b_gate not found, needed by a gated SAE/,
  );
  rejects(() => loadSae(make('topk-nok', { ...ok, architecture: 'topk' })), /TopK SAE needs k/);
  rejects(() => loadSae(make('norm', { ...ok, normalize_activations: 'layer_norm' })), /field normalize_activations/);
  rejects(
    () => loadSae(make('dims', { ...ok, d_sae: 512 })),
    /tensor W_enc: shape \[64,256\], expected \[d_in, d_sae\] = \[64,512\]/,
  );
  rejects(() => loadSae(make('nodin', { ...ok, d_in: 'x' })), /field d_in is "x", expected a positive integer/);
});

test('sae errors: unknown paths, non-zip torch files, truncated archives', () => {
  rejects(() => loadSae(join(dir, 'nope')), /SAE path not found/);
  const txt = join(dir, 'weights.bin');
  writeFileSync(txt, 'x');
  rejects(() => loadSae(txt), /unknown SAE file type/);
  const legacy = join(dir, 'legacy.pt');
  writeFileSync(
    legacy,
    Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]),
  );
  rejects(() => loadSae(legacy), /legacy\.pt: not a torch zip archive/);
  const cut = join(dir, 'cut.pth');
  writeFileSync(cut, readFileSync(join(FIX, 'goodfire_f32.pth')).subarray(0, 50_000));
  rejects(() => loadSae(cut), /cut\.pth: not a valid zip archive: no end-of-central-directory record \(truncated/);
  const npzDir = join(dir, 'cutnpz');
  mkdirSync(npzDir);
  writeFileSync(join(npzDir, 'params.npz'), readFileSync(join(FIX, 'gemmascope', 'params.npz')).subarray(0, 1000));
  rejects(() => loadSae(npzDir), /params\.npz: not a valid zip archive/);
});

test('sae errors: bad interventions and inputs', async () => {
  const sae = loadSae(join(FIX, 'saelens_relu'), { hash: false });
  rejects(
    () => makeIntervention(sae, [{ latent: 256, value: 1, mode: 'add' }]),
    /intervention 0 .*latent must be an integer in 0\.\.255/,
  );
  rejects(() => makeIntervention(sae, [{ latent: 1, value: NaN, mode: 'clamp' }]), /value must be a finite number/);
  rejects(
    () => makeIntervention(sae, [{ latent: 1, value: 1, mode: 'scale' as 'add' }]),
    /mode must be "add" or "clamp"/,
  );
  const h = tf.zeros([2, 63]) as tf.Tensor2D;
  await assert.rejects(
    encodeSparse(sae, h),
    (err: unknown) =>
      err instanceof InputError && /SAE input has shape \[2,63\], expected \[tokens, 64\]/.test(err.message),
  );
  h.dispose();
});
