// Per-feature threshold calibration: probabilistic bisection driven by steered, judged responses, all
// features advancing one step per batch round. Each feature's result is cached in a file named by the
// hash of the whole calibration config, so a rerun (or another run with the same config) reuses it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { writeJsonAtomic } from '../io/atomic.ts';
import { sha256Text } from '../io/hash.ts';
import { type HookPoint, hookName } from '../model/hooks.ts';
import { Rng } from '../random.ts';
import { interventionAt } from '../steering/interventions.ts';
import type { JudgeResult } from '../trials/types.ts';
import { Bisection, type BisectionSettings } from './bisection.ts';
import type { Feature } from './features.ts';
import { SEED_RANGE, subSeed } from './seeds.ts';
import { generateAndJudge, type SteeredGenerator, type SteeredRow } from './steered.ts';

export interface CalibrationStep {
  boost: number;
  /** First-attempt scores of the judged responses (null where the judge failed). */
  scores: (number | null)[];
}

export interface Calibration {
  feature: number;
  threshold: number;
  settings: BisectionSettings;
  history: CalibrationStep[];
}

export interface CalibrateOptions {
  prompts: string[];
  steerHook: HookPoint;
  seed: number;
  steps: number;
  /** Responses judged per step. */
  perStep: number;
  settingsFor: (feature: Feature) => BisectionSettings;
  cacheDir: string;
  /** Everything else the result depends on (model and SAE hashes, sampling, judge, template…). */
  context: Record<string, unknown>;
  onStep?: (step: number, steps: number) => void;
  /** Where a cache entry that fails its checks is reported (default stderr); it is then calibrated again. */
  warn?: (line: string) => void;
}

/**
 * A cached calibration, checked like anything read back from disk: this feature's, with these bisection
 * settings, a finite threshold inside their range and a history of steps with scores in 0–100 or null.
 * Returns why it is unusable (edited by hand, garbage, another feature's), or the calibration.
 */
export function readCachedCalibration(
  file: string,
  feature: number,
  settings: BisectionSettings,
): Calibration | string {
  let c: Partial<Calibration>;
  try {
    c = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return 'not a calibration object';
  if (c.feature !== feature) return `feature ${JSON.stringify(c.feature)}, expected ${feature}`;
  if (!isDeepStrictEqual(c.settings, settings)) return 'other bisection settings';
  const t = c.threshold;
  if (!(typeof t === 'number' && Number.isFinite(t) && t >= settings.lo && t <= settings.hi))
    return `threshold ${JSON.stringify(t)}, expected a number in [${settings.lo}, ${settings.hi}]`;
  const score = (x: unknown) => x === null || (typeof x === 'number' && x >= 0 && x <= 100);
  const step = (h: CalibrationStep) =>
    h !== null && typeof h === 'object' && Number.isFinite(h.boost) && Array.isArray(h.scores) && h.scores.every(score);
  if (!Array.isArray(c.history) || !c.history.every(step)) return 'history is not a list of {boost, scores in 0–100}';
  return c as Calibration;
}

/** `lo` or `hi` when a calibrated threshold ended within 1% of the bisection range of a bound (the target was not bracketed), else null. */
export function boundOf(c: Calibration): 'lo' | 'hi' | null {
  const tol = 0.01 * (c.settings.hi - c.settings.lo);
  return c.threshold <= c.settings.lo + tol ? 'lo' : c.threshold >= c.settings.hi - tol ? 'hi' : null;
}

function firstScore(j: JudgeResult): number | null {
  if (j.error || !j.attempts.length) return null;
  const s = j.attempts[0].score;
  return typeof s === 'number' && Number.isFinite(s) ? s : null;
}

function cacheFile(o: CalibrateOptions, f: Feature, settings: BisectionSettings): string {
  const key = {
    feature: f.latent,
    label: f.label,
    settings,
    steps: o.steps,
    per_step: o.perStep,
    seed: o.seed,
    steer_hook: hookName(o.steerHook),
    prompts: sha256Text(JSON.stringify(o.prompts)),
    context: o.context,
  };
  return join(o.cacheDir, `${sha256Text(JSON.stringify(key)).slice(0, 32)}.json`);
}

/** A feature's cache entry: its bisection settings, its file, and what the file holds (null: no file). */
export function cachedCalibration(
  f: Feature,
  o: CalibrateOptions,
): { settings: BisectionSettings; file: string; cached: Calibration | string | null } {
  const settings = o.settingsFor(f);
  const file = cacheFile(o, f, settings);
  return { settings, file, cached: existsSync(file) ? readCachedCalibration(file, f.latent, settings) : null };
}

export async function calibrate(
  g: SteeredGenerator,
  features: Feature[],
  o: CalibrateOptions,
): Promise<Map<number, Calibration>> {
  const out = new Map<number, Calibration>();
  const todo: {
    f: Feature;
    file: string;
    bis: Bisection;
    rng: Rng;
    history: CalibrationStep[];
    /** Judge errors met (an outage: more than half of the judgments, and the calibration is not kept). */
    failures: string[];
  }[] = [];
  for (const f of features) {
    const { settings, file, cached } = cachedCalibration(f, o);
    if (typeof cached === 'string')
      (o.warn ?? ((l: string) => console.error(l)))(
        `warning: ${file}: a cached calibration of feature ${f.latent} that fails its checks (${cached}); calibrating it again`,
      );
    if (cached !== null && typeof cached === 'object') out.set(f.latent, cached);
    else
      todo.push({
        f,
        file,
        bis: new Bisection(settings),
        rng: new Rng(subSeed(o.seed, 'calibrate', f.latent)),
        history: [],
        failures: [],
      });
  }
  for (let step = 0; step < o.steps && todo.length; step++) {
    const rows: SteeredRow[] = [];
    const boosts = todo.map((t) => t.bis.median());
    todo.forEach((t, i) => {
      for (let r = 0; r < o.perStep; r++) {
        rows.push({
          prompt: o.prompts[t.rng.int(o.prompts.length)],
          seed: t.rng.int(SEED_RANGE),
          interventions: [interventionAt(o.steerHook, { latent: t.f.latent, value: boosts[i], mode: 'add' })],
          instruction: null,
          featureLabel: t.f.label,
        });
      }
    });
    const scores: (number | null)[] = new Array(rows.length).fill(null);
    const failed: (string | null)[] = new Array(rows.length).fill(null);
    await generateAndJudge(g, rows, (index, r) => {
      scores[index] = firstScore(r.judge);
      failed[index] = r.judge.error;
    });
    todo.forEach((t, i) => {
      const mine = scores.slice(i * o.perStep, (i + 1) * o.perStep);
      const errors = failed.slice(i * o.perStep, (i + 1) * o.perStep).filter((e): e is string => e !== null);
      t.failures.push(...errors);
      t.history.push({ boost: boosts[i], scores: mine });
      const ok = mine.filter((s): s is number => s !== null);
      if (ok.length) t.bis.update(boosts[i], ok.reduce((a, b) => a + b, 0) / ok.length / 100, ok.length);
    });
    o.onStep?.(step + 1, o.steps);
  }
  // More than half of a feature's judgments failed (a judge outage): its threshold is the prior's guess,
  // so it is neither cached nor used. A few failures (a response the judge cannot grade) are tolerated.
  const broken = (t: (typeof todo)[number]) => t.failures.length > (o.steps * o.perStep) / 2;
  for (const t of todo) {
    if (broken(t)) continue;
    const c: Calibration = { feature: t.f.latent, threshold: t.bis.median(), settings: t.bis.s, history: t.history };
    writeJsonAtomic(t.file, c);
    out.set(t.f.latent, c);
  }
  const hit = todo.filter(broken);
  if (hit.length) {
    const n = hit.reduce((a, t) => a + t.failures.length, 0);
    throw new Error(
      `calibration: the judge failed on ${n} of ${o.steps * o.perStep * hit.length} responses of feature${hit.length > 1 ? 's' : ''} ${hit.map((t) => t.f.latent).join(', ')} ` +
        `(first: ${hit[0].failures[0]}); their thresholds are not kept. Rerun the same command to calibrate them again (finished calibrations are kept)`,
    );
  }
  return out;
}
