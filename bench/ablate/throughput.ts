// Trials per second of analyze ablate on the shipped default (data/model, data/sae, data/prompts.txt) with
// the heuristic judge and a fixed boost (no calibration), in this thread and with 2 worker threads.
// No peer: the paper's pipeline runs on a served 8B–70B model, not comparable. Run:
//   node --import tsx bench/ablate/throughput.ts [features=10] [trials-per-feature=5]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const [features = '10', perFeature = '5'] = process.argv.slice(2);

for (const workers of [0, 2]) {
  const out = join(mkdtempSync(join(tmpdir(), 'ablate-bench-')), 'run');
  const started = Date.now();
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin/analyze.js'),
      'ablate',
      '--latents',
      '10,910,433,907,720',
      '--n-features',
      features,
      '--trials-per-feature',
      perFeature,
      '--boost',
      '0.7',
      '--judge',
      'heuristic',
      '--workers',
      String(workers),
      '--resamples',
      '1000',
      '--out',
      out,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  const wall = (Date.now() - started) / 1000;
  const trials = readFileSync(join(out, 'trials.jsonl'), 'utf8').split('\n').filter(Boolean).length;
  const loop = Number(/in ([\d.]+) s →/.exec(r.stdout)?.[1]);
  console.log(
    `workers ${workers}: ${trials} trials, ${(trials / loop).toFixed(1)} trials/s in the run (${loop.toFixed(1)} s), ${wall.toFixed(1)} s wall with start-up`,
  );
}
