// Benchmark: all differential statistics for 65,536 latents × 10,000 samples at ~100 non-zeros per
// sample, ours (sparse) against numpy/scipy vectorized over dense latent blocks, same data, same run.
// The peer runs a subset of latents (dense scipy over all 65,536 takes minutes) and is scaled up
// linearly; pass --peer-latents 65536 to run it all.
//   node --import tsx bench/stats/differential.ts [--peer-latents 4096]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { differentialStats } from '../../lib/stats/differential.ts';
import { streams } from '../../lib/random.ts';
import { rankLatents, resolveCriterion, select } from '../../lib/stats/selection.ts';

const D = 65_536;
const N = 10_000;
const PER = 100;
const arg = process.argv.indexOf('--peer-latents');
const peerLatents = arg > 0 ? Number(process.argv[arg + 1]) : 4096;

const [rng] = streams(1, 1);
const indptr = new Int32Array(N + 1);
const latents = new Int32Array(N * PER);
const values = new Float64Array(N * PER);
for (let r = 0; r < N; r++) {
  const row = new Set<number>();
  while (row.size < PER) row.add(rng.int(D));
  [...row]
    .sort((a, b) => a - b)
    .forEach((l, k) => {
      latents[r * PER + k] = l;
      values[r * PER + k] = Math.round((0.1 + rng.int(1 << 20) / (1 << 18)) * 1000) / 1000;
    });
  indptr[r + 1] = (r + 1) * PER;
}
const groups = Uint8Array.from({ length: N }, (_, r) => (r < N / 2 ? 0 : 1));
const codes = { nSamples: N, dSae: D, indptr, latents, values };

const t0 = performance.now();
const s = differentialStats(codes, groups);
select(s, resolveCriterion('effect'));
rankLatents(s, 'auc');
const ours = (performance.now() - t0) / 1000;

const dir = mkdtempSync(join(tmpdir(), 'bench-diff-'));
writeFileSync(join(dir, 'indptr.bin'), indptr);
writeFileSync(join(dir, 'latents.bin'), latents);
writeFileSync(join(dir, 'values.bin'), values);
const peer = spawnSync(
  join(process.cwd(), '.venv-ref/bin/python'),
  [fileURLToPath(new URL('./differential_peer.py', import.meta.url)), dir, String(N), String(D), String(peerLatents)],
  { encoding: 'utf8' },
);
rmSync(dir, { recursive: true, force: true });
if (peer.status !== 0) throw new Error(`peer failed: ${peer.stderr}`);
const p = JSON.parse(peer.stdout);
// agreement on the latents the peer ran
let maxRel = 0;
p.latents.forEach((l: number, i: number) => {
  for (const [ours_, theirs] of [
    [s.p_mwu[l], p.p_mwu[i]],
    [s.u[l], p.u[i]],
    [s.welch_t[l], p.t[i]],
  ]) {
    if (Number.isFinite(theirs))
      maxRel = Math.max(maxRel, Math.abs(ours_ - theirs) / Math.max(Math.abs(theirs), 1e-300));
  }
});
const peerAll = (p.seconds * D) / peerLatents;
console.log(`data: ${D} latents × ${N} samples, ${PER} non-zeros per sample`);
console.log(`ours (all statistics, BH/Holm, selection, ranking, all ${D} latents): ${ours.toFixed(2)} s`);
console.log(
  `scipy (mannwhitneyu + ttest_ind Welch + BH, dense, ${peerLatents} latents): ${p.seconds.toFixed(2)} s → ${peerAll.toFixed(1)} s for ${D}`,
);
console.log(
  `ratio scipy/ours: ${(peerAll / ours).toFixed(0)}×; max relative difference on shared latents (U, p_mwu, t): ${maxRel.toExponential(1)}`,
);
