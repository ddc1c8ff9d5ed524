// SAE encode time on WASM for real SAE sizes (Llama-3.1-8B: 4,096 × 65,536; Llama-3.3-70B: 8,192 × 65,536,
// bf16, Goodfire .pth format) on one batch of 64 tokens, against torch on the same file in the same run.
//   node --import tsx bench/sae/encode.ts [--sizes 4096,8192] [--reps 3] [--keep]
// Writes the synthetic SAEs (1–2 GiB each) under the OS temp dir and removes them unless --keep.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { openBackend } from '../../lib/backend.ts';
import { parseNpyHeader } from '../../lib/io/npy.ts';
import { encodeSparse, loadSae } from '../../lib/sae/index.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const sizes = opt('sizes', '4096,8192').split(',').map(Number);
const reps = Number(opt('reps', '3'));
const D_SAE = 65536;
const python = join(import.meta.dirname, '..', '..', '.venv-ref', 'bin', 'python');
const peer = join(import.meta.dirname, 'encode_torch.py');

const backend = await openBackend('wasm');
const secs = (t0: number) => (performance.now() - t0) / 1000;

for (const dIn of sizes) {
  const dir = join(tmpdir(), `esr-bench-sae-${dIn}x${D_SAE}`);
  if (!existsSync(join(dir, 'sae.pth'))) {
    console.log(`writing a synthetic ${dIn} × ${D_SAE} bf16 SAE to ${dir} ...`);
    execFileSync(python, [peer, 'write', dir, String(dIn), String(D_SAE)], { stdio: 'inherit' });
  }
  let t0 = performance.now();
  const sae = loadSae(join(dir, 'sae.pth'), { hash: false });
  const loadS = secs(t0);
  const npy = readFileSync(join(dir, 'x.npy'));
  const head = parseNpyHeader(npy, 'x.npy');
  const x = tf.tensor2d(
    new Float32Array(npy.buffer.slice(npy.byteOffset + head.dataOffset, npy.byteOffset + npy.byteLength)),
    head.shape as [number, number],
  );

  t0 = performance.now();
  let codes = await encodeSparse(sae, x); // first call also uploads the resident blocks
  const firstS = secs(t0);
  let best = Infinity;
  for (let r = 0; r < reps; r++) {
    t0 = performance.now();
    codes = await encodeSparse(sae, x);
    best = Math.min(best, secs(t0));
  }
  const resident = Math.min(sae.nBlocks, Math.floor((1024 << 20) / (4 * sae.dIn * sae.blockLatents)));
  sae.dispose();
  x.dispose();

  const torch = JSON.parse(
    execFileSync(python, [peer, 'run', dir, String(reps)], { encoding: 'utf8', maxBuffer: 1 << 26 }),
  );
  // agreement on token 0 (bf16 weights widened to f32 in both)
  const ours = new Map<number, number>();
  for (let p = codes.rowPtr[0]; p < codes.rowPtr[1]; p++) ours.set(codes.latents[p], codes.values[p]);
  let maxErr = 0;
  torch.token0.latents.forEach((j: number, i: number) => {
    maxErr = Math.max(maxErr, Math.abs((ours.get(j) ?? 0) - torch.token0.values[i]));
  });
  const sameSet = ours.size === torch.token0.latents.length;

  console.log(
    `\nSAE ${dIn} × ${D_SAE} bf16 (Goodfire .pth), 64 tokens, ReLU; ours on ${backend.description}, ${resident}/${sae.nBlocks} encoder blocks resident`,
  );
  console.log(
    `  load .pth            ours ${loadS.toFixed(2)} s   torch ${torch.load_s.toFixed(2)} s (lazy mmap: bytes read on first use)`,
  );
  console.log(`  encode, first call   ours ${firstS.toFixed(3)} s`);
  console.log(
    `  encode, best of ${reps}    ours ${best.toFixed(3)} s   torch f32 ${torch.f32_s.toFixed(3)} s (ratio ${(best / torch.f32_s).toFixed(2)})   torch bf16 ${torch.bf16_s.toFixed(3)} s (ratio ${(best / torch.bf16_s).toFixed(2)})   [torch ${torch.torch}, ${torch.threads} threads]`,
  );
  console.log(
    `  codes: ${codes.latents.length} non-zero (torch ${torch.nnz}); token 0 same active set: ${sameSet}, max |diff| ${maxErr.toExponential(2)}`,
  );
  if (!args.includes('--keep')) rmSync(dir, { recursive: true, force: true });
}
