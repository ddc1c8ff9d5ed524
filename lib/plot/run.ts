// Every figure a run directory's files allow: discovery (latents.json, ranking.arrow,
// activations.acts/), ablation (metrics.json, trials.jsonl), boost sweeps (trials.jsonl with several
// boost levels) and episodes (episodes.json of an episodes run, or arrays handed in). `writeFigures` puts them in
// DIR/figures/ as SVG + PNG with an index of captions.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { withDirLock } from '../runs/lock.ts';
import { InputError } from '../errors.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { readJson } from '../io/json.ts';
import type { TestAlternative, UnitKind } from '../stats/detectors.ts';
import { readLatentSet } from '../stats/latentSet.ts';
import type { PoolMode } from '../stats/sparse.ts';
import { openStore } from '../store/reader.ts';
import { isApproximateJudgment, trialScores } from '../trials/metrics.ts';
import { APPROXIMATION_NOTE } from '../trials/report.ts';
import { readTrials } from '../trials/store.ts';
import type { Trial } from '../trials/types.ts';
import { conditionBars, pairedDifferences, scoreDeltaHistograms } from './ablation.ts';
import { activationDistributions, rankingPlot, stabilityPlot } from './discovery.ts';
import { criterionOf, discoveryActivations, readRankingPoints, ruleText } from './discoveryData.ts';
import { type LatentRegions, type LatentTraces, regionMeansPlot, tracesPlot } from './episodes.ts';
import { episodesFigureData } from './episodesData.ts';
import { type Figure, markApproximation } from './figure.ts';
import type { MetricsSummary } from './metricsInfo.ts';
import { writeFigureFiles } from './render.ts';
import { isSweep, sweepPlot, sweepPoints } from './sweep.ts';

export const RUN_FILES = {
  latents: 'latents.json',
  ranking: 'ranking.arrow',
  store: 'activations.acts',
  trials: 'trials.jsonl',
  metrics: 'metrics.json',
  episodes: 'episodes.json',
} as const;

export const FIGURES_DIR = 'figures';
export const FIGURES_INDEX = 'index.json';

export interface FigureOptions {
  /** Episode statistics from an episodes run (plain arrays, see lib/plot/episodes.ts). */
  episodes?: { regions?: LatentRegions[]; traces?: LatentTraces[] };
  /** x-axis label of the boost sweep (default "boost"). */
  boostLabel?: string;
  /** How many top-ranked latents the distribution and stability figures show. */
  topDistributions?: number;
  topStability?: number;
}

/** Last − first attempt score of each counted multi-attempt trial, per condition (in order of appearance). */
export function scoreDeltas(trials: Trial[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const t of trials) {
    if (!out.has(t.condition)) out.set(t.condition, []);
    const r = trialScores(t);
    if ('scores' in r && r.scores.length > 1) out.get(t.condition)!.push(r.scores[r.scores.length - 1] - r.scores[0]);
  }
  return out;
}

/** The two groups a discovery run compared (criterion.groups: {a, b} condition names), where recorded. */
function groupsOf(g: unknown): { a?: string; b?: string } {
  if (typeof g !== 'object' || g === null) return {};
  const { a, b } = g as Record<string, unknown>;
  return { ...(typeof a === 'string' ? { a } : {}), ...(typeof b === 'string' ? { b } : {}) };
}

async function discoveryFigures(dir: string, o: FigureOptions): Promise<Figure[]> {
  const figs: Figure[] = [];
  const latentsPath = join(dir, RUN_FILES.latents);
  if (!existsSync(latentsPath)) return figs;
  const set = readLatentSet(latentsPath);
  const labels = new Map(set.latents.filter((e) => e.label).map((e) => [e.latent, e.label!]));
  const criterion = criterionOf(set.criterion);
  const crit = set.criterion;
  const compare = {
    unit: (crit.unit as UnitKind | undefined) ?? 'prompt',
    alternative: (crit.alternative as TestAlternative | undefined) ?? 'greater',
    dropIncomplete: true,
  };
  if (existsSync(join(dir, RUN_FILES.ranking))) {
    const { points, effect } = readRankingPoints(join(dir, RUN_FILES.ranking), labels, criterion.fdr);
    figs.push(
      rankingPlot(points, {
        rule: ruleText(criterion),
        effectLabel: effect === 'strat_auc' ? 'strat_auc (within-prompt AUC)' : 'AUC (per sample)',
        test: (crit.test as string | undefined) ?? undefined,
        fdr: criterion.fdr,
        nA: crit.n_a as number | undefined,
        nB: crit.n_b as number | undefined,
      }),
    );
  }
  if (existsSync(join(dir, RUN_FILES.store, 'meta.json'))) {
    const ranked = set.latents.map((e) => e.latent);
    const span = (crit.span as string) ?? 'response';
    const pool = (crit.pool as PoolMode) ?? 'max';
    const acts = await discoveryActivations(openStore(join(dir, RUN_FILES.store)), {
      distLatents: ranked.slice(0, o.topDistributions ?? 6),
      stabLatents: ranked.slice(0, o.topStability ?? 15),
      span,
      pool,
      criterion,
      compare,
      labels,
      ...groupsOf(crit.groups),
    });
    if (acts.distributions.length) figs.push(activationDistributions(acts.distributions, { pool, span }));
    if (acts.stability?.length)
      figs.push(
        stabilityPlot(acts.stability, {
          statistic: compare.unit === 'prompt' ? 'strat_auc' : 'AUC',
          rule: ruleText(criterion),
          nOn: acts.nOn,
          nOffPerDerangement: acts.nOffPerDerangement,
        }),
      );
  }
  return figs;
}

function ablationFigures(dir: string, o: FigureOptions): Figure[] {
  const figs: Figure[] = [];
  const metricsPath = join(dir, RUN_FILES.metrics);
  const metrics: MetricsSummary | null = existsSync(metricsPath) ? readJson(metricsPath) : null;
  if (metrics) {
    if (!metrics.conditions || typeof metrics.conditions !== 'object')
      throw new InputError(`${metricsPath}: conditions: expected an object of conditions`);
    figs.push(conditionBars(metrics));
    if (metrics.differences?.length) figs.push(pairedDifferences(metrics.differences, metrics.bootstrap));
  }
  const trialsPath = join(dir, RUN_FILES.trials);
  let approximate =
    Object.values(metrics?.conditions ?? {}).some((c) => c.approximation === true) ||
    (metrics as { provenance?: { judge?: { approximation?: unknown } } } | null)?.provenance?.judge?.approximation ===
      true;
  if (existsSync(trialsPath)) {
    const trials = readTrials(trialsPath);
    approximate ||= trials.some(isApproximateJudgment);
    const deltas = scoreDeltas(trials);
    if ([...deltas.values()].some((d) => d.length > 0)) figs.push(scoreDeltaHistograms(deltas));
    if (isSweep(trials)) {
      const b = metrics?.bootstrap;
      const { points, bootstrap } = sweepPoints(
        trials,
        b ? { resamples: b.resamples, seed: b.seed, level: b.level, cluster: b.cluster, ci: b.ci } : {},
      );
      figs.push(sweepPlot(points, { bootstrap, xLabel: o.boostLabel }));
    }
  }
  return approximate ? figs.map((f) => markApproximation(f, APPROXIMATION_NOTE)) : figs;
}

/** Every figure the run directory's files allow, drawn in memory. */
export async function buildFigures(dir: string, o: FigureOptions = {}): Promise<Figure[]> {
  if (!existsSync(dir)) throw new InputError(`${dir}: run directory not found`);
  const figs = [...(await discoveryFigures(dir, o)), ...ablationFigures(dir, o)];
  const episodesPath = join(dir, RUN_FILES.episodes);
  const episodes = o.episodes ?? (existsSync(episodesPath) ? episodesFigureData(readJson(episodesPath)) : undefined);
  if (episodes?.regions?.length) figs.push(regionMeansPlot(episodes.regions));
  if (episodes?.traces?.length) figs.push(tracesPlot(episodes.traces));
  return figs;
}

export interface WrittenFigure {
  name: string;
  title: string;
  caption: string;
  svg: string;
  png: string;
}

/**
 * (Re)draws every figure of a run directory into DIR/figures/ (`<name>.svg`, `<name>.png`, and
 * `index.json` listing names, titles, captions and files relative to figures/). Returns what it wrote.
 */
export async function writeFigures(dir: string, o: FigureOptions = {}): Promise<WrittenFigure[]> {
  if (!existsSync(dir)) throw new InputError(`${dir}: run directory not found`);
  // a run directory has one writer: drawing waits for no one, it is refused while a run holds the directory
  return withDirLock(dir, `run directory ${dir}`, async () => {
    const out = join(dir, FIGURES_DIR);
    const written = (await buildFigures(dir, o)).map((fig) => {
      writeFigureFiles(out, fig);
      return { name: fig.name, title: fig.title, caption: fig.caption, svg: `${fig.name}.svg`, png: `${fig.name}.png` };
    });
    if (written.length) writeJsonAtomic(join(out, FIGURES_INDEX), { figures: written });
    return written;
  });
}
