// The shipped default is a model organism of ESR (issue #10): find-otd-latents finds real detectors that
// generalise to held-out prompts, and ablating them while steering lowers the multi-attempt rate.
// Measured with the toolkit itself, on data/model + data/sae + data/prompts.txt (their defaults).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { ABLATION_SETTINGS } from '../../lib/experiments/settings.ts';
import { assertExit, runCli } from '../support/cli.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'organism-'));
// The steering strength: the one the build ships (data/sae/esr_defaults.json's `boost`, the run's default); a
// build that ships none (the first organism) is steered at the median calibrated threshold of its documented
// `ablate` run (docs/data.md), 0.315.
const SHIPPED_BOOST: number | undefined = JSON.parse(
  readFileSync(join(ROOT, 'data', 'sae', 'esr_defaults.json'), 'utf8'),
).boost;
const STRENGTH = SHIPPED_BOOST === undefined ? ['--boost', '0.315'] : [];

const analyze = (...args: string[]) => runCli(args);

let discovery: string | undefined;
/** The discovery run on the default prompts, made by whichever test needs it first (each test runs alone too). */
function defaultDiscovery(): string {
  if (!discovery) {
    const out = join(tmp, 'otd');
    assertExit(analyze('find-otd-latents', '--out', out), 0);
    discovery = out;
  }
  return discovery;
}

function aucByLatent(run: string): Map<number, number> {
  const t = tableFromIPC(readFileSync(join(run, 'ranking.arrow')));
  const latents = t.getChild('latent')!.toArray() as Int32Array;
  const auc = t.getChild('auc')!.toArray() as Float64Array;
  return new Map(Array.from(latents, (l, i) => [l, auc[i]]));
}

test('detectors: ≥ 5 latents with AUC ≥ 0.95 on the default prompts keep AUC ≥ 0.9 on the held-out prompts', () => {
  const aucs = aucByLatent(defaultDiscovery());
  const strong = [...aucs].filter(([, a]) => a >= 0.95).map(([l]) => l);
  assert.ok(strong.length >= 5, `${strong.length} latents with AUC ≥ 0.95`);
  const held = join(tmp, 'otd-heldout');
  const h = analyze('find-otd-latents', '--prompts', join(ROOT, 'data', 'heldout_prompts.txt'), '--out', held);
  assertExit(h, 0);
  const heldAucs = aucByLatent(held);
  const kept = strong.filter((l) => heldAucs.get(l)! >= 0.9);
  assert.ok(kept.length >= 5, `${kept.length} of the ${strong.length} keep AUC ≥ 0.9 on held-out prompts`);
});

test("the toolkit's top 26 and the detectors the build found with transformers mostly agree (data/summary.json)", () => {
  // detectors_python: the build's own discovery, in torch (the first build records its top 26, later ones every
  // detector found, `found`); the toolkit ranks on data/prompts.txt with its own runtime. Whichever is smaller
  // (26, or a build with fewer detectors) is mostly inside the other.
  const py = JSON.parse(readFileSync(join(ROOT, 'data', 'summary.json'), 'utf8')).detectors_python;
  const built = new Set<number>(py.found ?? py.top26);
  const set = JSON.parse(readFileSync(join(defaultDiscovery(), 'latents.json'), 'utf8'));
  const top = (set.latents as { latent: number }[]).slice(0, 26).map((e) => e.latent);
  const shared = top.filter((l) => built.has(l));
  assert.ok(built.size >= 5, `the build found ${built.size} detectors`);
  assert.ok(
    shared.length >= 0.75 * Math.min(26, built.size),
    `${shared.length} of the toolkit's top 26 are among the build's ${built.size} detectors: ${shared.join(', ')}`,
  );
});

test('ablation: clamping the top-26 detectors while steering lowers the multi-attempt rate below baseline and below the random control (fixed seed, reduced trials)', () => {
  const out = join(tmp, 'ablate');
  const r = analyze(
    'ablate',
    '--latents',
    'top26',
    '--otd',
    join(defaultDiscovery(), 'latents.json'),
    '--conditions',
    'baseline,ablate,random',
    '--trials-per-feature',
    '8',
    ...STRENGTH,
    '--resamples',
    '200',
    '--seed',
    '0',
    '--out',
    out,
  );
  assertExit(r, 0);
  const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  const base = m.conditions.baseline.metrics.multi_attempt_rate.estimate;
  const abl = m.conditions.ablate.metrics.multi_attempt_rate.estimate;
  assert.ok(base > 0, 'steering makes the organism correct itself');
  const rnd = m.conditions.random.metrics.multi_attempt_rate.estimate;
  assert.ok(abl < base, `multi-attempt ${abl} with the detectors ablated vs ${base} without`);
  assert.ok(abl < rnd, `multi-attempt ${abl} with the detectors ablated vs ${rnd} with random latents clamped`);
});

test("docs/ablate.md's measured default run names the shipped steering pool's size and the trials it gives", () => {
  // the pool is what the run found on the shipped files; the run steers all of it when it holds fewer than the 20
  // sampled by default
  const out = join(tmp, 'ablate-pool');
  assertExit(
    analyze(
      'ablate',
      '--latents',
      'top26',
      '--otd',
      join(defaultDiscovery(), 'latents.json'),
      ...STRENGTH,
      '--trials-per-feature',
      '1',
      '--resamples',
      '200',
      '--out',
      out,
    ),
    0,
  );
  const record = JSON.parse(readFileSync(join(out, 'steering_pool.json'), 'utf8'));
  const sampled = record.sampled.length as number;
  const doc = readFileSync(join(ROOT, 'docs', 'ablate.md'), 'utf8').replace(/\s+/g, ' ');
  // the default run: its draws per feature under each default condition, and its calibration steps per feature
  // (none when the build ships a strength)
  const { trialsPerFeature, conditions, calibrateSteps } = ABLATION_SETTINGS;
  const trials = sampled * trialsPerFeature.default! * conditions.default!.length;
  const strength =
    SHIPPED_BOOST === undefined
      ? ` × ${calibrateSteps.default} calibration steps`
      : ` at the shipped boost ${SHIPPED_BOOST}`;
  const features =
    record.pool === sampled
      ? `the whole steering pool of ${sampled} features`
      : `${sampled} of the steering pool's ${record.pool} features`;
  const said = `${features}${strength}, and ${trials} trials`;
  assert.ok(doc.includes(said), `docs/ablate.md should say: ${said}`);
});
