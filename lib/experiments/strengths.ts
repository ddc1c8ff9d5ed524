// Step 2 of an ablation: each feature's steering strengths — a fixed boost, or its calibrated threshold
// (probabilistic bisection, cached per feature), optionally swept over levels around it (relative: around
// each threshold; absolute, the paper's: the same boosts around the mean threshold).
import { join } from 'node:path';
import { settingRef as ref } from '../errors.ts';
import type { HookPoint } from '../model/hooks.ts';
import { progress } from '../progress.ts';
import type { Sae } from '../sae/index.ts';
import { DEFAULT_BISECTION, type BisectionSettings } from './bisection.ts';
import { boundOf, type CalibrateOptions, type Calibration, cachedCalibration, calibrate } from './calibrate.ts';
import type { CalibrateStrength, StrengthOptions } from './config.ts';
import type { Feature } from './features.ts';
import { type Strength, sweepLevels } from './plan.ts';
import { decoderNorm, type PromptScan } from './scan.ts';
import type { SteeredGenerator } from './steered.ts';

export interface Strengths {
  /** Each feature's strengths: one per sweep level (the threshold alone without a sweep). */
  perFeature: Map<number, Strength[]>;
  calibrations: Map<number, Calibration>;
  /** The sweep's levels (offsets in threshold spreads), or null without a sweep. */
  levels: number[] | null;
  /** A sharded sweep's: the other shards' features not calibrated yet (no strengths until they are). */
  waiting?: number[];
}

export interface StrengthInput {
  gen: SteeredGenerator;
  sae: Sae;
  features: Feature[];
  strength: StrengthOptions;
  /** Whether any condition steers (unsteered ones alone need no strength: nothing is calibrated). */
  steered: boolean;
  prompts: string[];
  steerHook: HookPoint;
  seed: number;
  /** The default calibration cache is <out>/calibration (a shard's out: the run's, shared by its shards). */
  out: string;
  /** A shard's: the whole run's features, whose thresholds space a sweep's levels (read from the cache). */
  runFeatures?: Feature[];
  /** The prompts' scan at the steering hook point (the default calibration range's scale). */
  scan: PromptScan | null;
  /** What else a calibration depends on (model and SAE hashes, sampling, judge): its cache key. */
  context: Record<string, unknown>;
  log: (line: string) => void;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

const sd = (xs: number[]): number => {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
};

/** Bisection bounds and prior of a feature: the given range, or [0, 2·median‖h‖/‖W_dec[f]‖]. */
function bisectionSettings(s: CalibrateStrength, scale: (f: Feature) => number): (f: Feature) => BisectionSettings {
  return (f) => {
    const [lo, hi] = s.range ?? [0, scale(f)];
    return { lo, hi, priorMean: (lo + hi) / 2, priorSd: (hi - lo) / 4, target: s.target / 100, ...DEFAULT_BISECTION };
  };
}

/** The calibrated thresholds summarised, and those stuck at a bisection bound warned about. */
function reportThresholds(features: Feature[], calibrations: Map<number, Calibration>, log: (l: string) => void): void {
  const thresholds = features.map((f) => calibrations.get(f.latent)!.threshold);
  const median = thresholds.slice().sort((a, b) => a - b)[Math.floor(thresholds.length / 2)];
  log(
    `thresholds: median ${median.toFixed(3)}, mean ${mean(thresholds).toFixed(3)}, spread (sd) ${sd(thresholds).toFixed(3)}`,
  );
  const atBound = features.filter((f) => boundOf(calibrations.get(f.latent)!) !== null);
  if (atBound.length)
    log(
      `warning: ${atBound.length} of ${features.length} calibrated thresholds ended at a bisection bound (${atBound.map((f) => `${f.latent}: ${boundOf(calibrations.get(f.latent)!)}`).join(', ')}): ` +
        `the target score was not bracketed; widen ${ref('calibrateRange')} or check the feature (marked in summary.md)`,
    );
}

/** Each feature's strengths at the calibrated thresholds, over the sweep's levels when it sweeps. */
export function sweptStrengths(
  features: Feature[],
  calibrations: Map<number, Calibration>,
  sweep: CalibrateStrength['sweep'],
): Strengths {
  const thresholds = features.map((f) => calibrations.get(f.latent)!.threshold);
  const spread = sweep ? sd(thresholds) : 0;
  const centre = mean(thresholds);
  const levels = sweep ? sweepLevels(sweep.k, sweep.range) : null;
  const perFeature = new Map<number, Strength[]>();
  for (const f of features) {
    const thr = calibrations.get(f.latent)!.threshold;
    // relative sweep: around each feature's own threshold; absolute (the paper's): the same boosts around the mean threshold
    const at = sweep?.absolute ? centre : thr;
    perFeature.set(
      f.latent,
      (levels ?? [null]).map((z) => ({ boost: z === null ? thr : Math.max(0, at + z * spread), level: z })),
    );
  }
  return { perFeature, calibrations, levels };
}

/** The strengths of every feature: fixed, or calibrated (and swept). */
export async function strengthsFor(i: StrengthInput): Promise<Strengths> {
  const s = i.strength;
  if (s.kind === 'fixed' || !i.steered) {
    const boost = s.kind === 'fixed' ? s.boost : 0;
    const perFeature = new Map(i.features.map((f) => [f.latent, [{ boost, level: null }]]));
    return { perFeature, calibrations: new Map(), levels: null };
  }
  const cacheDir = s.cacheDir ?? join(i.out, 'calibration');
  i.log(
    `calibrating ${i.features.length} features to a first-attempt score of ${s.target} (${s.steps} bisection steps, ${s.perStep} response${s.perStep > 1 ? 's' : ''} each; cache ${cacheDir})`,
  );
  const bar = progress('calibration steps', s.steps);
  const o: CalibrateOptions = {
    prompts: i.prompts,
    steerHook: i.steerHook,
    seed: i.seed,
    steps: s.steps,
    perStep: s.perStep,
    cacheDir,
    settingsFor: bisectionSettings(s, (f) => (2 * i.scan!.medianNorm) / decoderNorm(i.sae, f.latent)),
    context: i.context,
    onStep: () => bar.tick(),
    warn: i.log,
  };
  const calibrations = await calibrate(i.gen, i.features, o);
  bar.done();
  if (s.sweep && i.runFeatures) return shardSweep(i.features, i.runFeatures, calibrations, o, s.sweep, i.log);
  reportThresholds(i.features, calibrations, i.log);
  return sweptStrengths(i.features, calibrations, s.sweep);
}

/**
 * A shard's strengths in a sweep: its features' levels are spaced by every feature's threshold, read from
 * the calibration cache the shards share — the same levels as the unsharded run's once every shard has
 * calibrated; until then, the features still waiting.
 */
function shardSweep(
  mine: Feature[],
  all: Feature[],
  own: Map<number, Calibration>,
  o: CalibrateOptions,
  sweep: NonNullable<CalibrateStrength['sweep']>,
  log: (line: string) => void,
): Strengths {
  const calibrations = new Map(own);
  const waiting: number[] = [];
  for (const f of all) {
    if (calibrations.has(f.latent)) continue;
    const { cached } = cachedCalibration(f, o);
    if (cached !== null && typeof cached === 'object') calibrations.set(f.latent, cached);
    else waiting.push(f.latent);
  }
  if (waiting.length) return { perFeature: new Map(), calibrations: own, levels: null, waiting };
  reportThresholds(all, calibrations, log);
  const whole = sweptStrengths(all, calibrations, sweep);
  const perFeature = new Map(mine.map((f) => [f.latent, whole.perFeature.get(f.latent)!]));
  return { perFeature, calibrations: own, levels: whole.levels };
}
