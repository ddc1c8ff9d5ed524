// `analyze report DIR`: one self-contained report.html for a run directory: its figures inline (SVG
// data URIs), tables of detectors and metrics, judge and method notes, and provenance.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readJson } from '../io/json.ts';
import { HEURISTIC_NOTE } from '../judge/heuristic.ts';
import { criterionOf, ruleText } from '../plot/discoveryData.ts';
import { buildFigures, type FigureOptions, RUN_FILES } from '../plot/run.ts';
import type { Figure } from '../plot/figure.ts';
import { ciDescription, metricInfo, type MetricsSummary, type MetricValue } from '../plot/metricsInfo.ts';
import { packageVersion } from '../runs/provenance.ts';
import { readLatentSet, type LatentSet } from '../stats/latentSet.ts';
import { METRICS } from '../trials/metricDefs.ts';
import { readTrials } from '../trials/store.ts';
import type { Trial } from '../trials/types.ts';
import { pickExamples } from '../trials/examples.ts';
import { examplesSection } from './examples.ts';
import { matchPaper, paperSection, runShape } from './paper.ts';
import { type Cell, details, escapeHtml, facts, num, page, table } from './html.ts';

export const REPORT_FILE = 'report.html';

const fmt = (x: unknown, digits = 3): string =>
  typeof x === 'number' && Number.isFinite(x) ? String(Number(x.toPrecision(digits))) : '—';
const pct = (x: unknown): string => (typeof x === 'number' && Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '—');

/** The path of an input as latents.json records it ({path, ...}), where it does. */
function pathOf(input: unknown): string | undefined {
  const path = typeof input === 'object' && input !== null ? (input as { path?: unknown }).path : undefined;
  return typeof path === 'string' ? path : undefined;
}

function valueText(metric: string, v: number | null | undefined): string {
  return metricInfo(metric).scale === 'fraction'
    ? pct(v)
    : typeof v === 'number' && Number.isFinite(v)
      ? v.toFixed(2)
      : '—';
}
function ciText(metric: string, ci: [number, number] | null | undefined): string {
  return ci?.every((v) => typeof v === 'number' && Number.isFinite(v))
    ? `[${valueText(metric, ci[0])}, ${valueText(metric, ci[1])}]`
    : '—';
}

function figureHtml(fig: Figure, n: number): string {
  const src = `data:image/svg+xml;base64,${Buffer.from(fig.svg, 'utf8').toString('base64')}`;
  return `<figure id="fig-${escapeHtml(fig.name)}"><img src="${src}" alt="${escapeHtml(fig.title)}" width="${fig.width}" height="${fig.height}">
<figcaption><b>Figure ${n}. ${escapeHtml(fig.title)}.</b> ${escapeHtml(fig.caption)}</figcaption></figure>`;
}

/** A latent set's hook point; sets written before hook points were named give a layer (resid_post.L). */
const hookOf = (set: LatentSet): string =>
  set.hook ?? (set.layer === null || set.layer === undefined ? '—' : `resid_post.${set.layer}`);

function discoverySection(set: LatentSet): string {
  const c = set.criterion as Record<string, any>;
  const top = set.latents.slice(0, 26);
  const rows = top.map((e, i) => [
    num(String(i + 1)),
    num(String(e.latent)),
    escapeHtml(e.label ?? ''),
    e.selected ? '✔' : '',
    ...['strat_auc', 'p_strat', 'q_bh', 'auc', 'cohens_d', 'freq_a', 'freq_b', 'mean_a', 'mean_b'].map((k) =>
      num(fmt(e.stats[k])),
    ),
  ]);
  return `<h2>Off-topic detector latents</h2>
${facts([
  ['selection rule', ruleText(criterionOf(c))],
  [
    'groups',
    `a = ${c.groups?.a ?? 'off_topic'} (n = ${c.n_a ?? '?'}), b = ${c.groups?.b ?? 'on_topic'} (n = ${c.n_b ?? '?'})`,
  ],
  ['pooling', `${c.pool ?? 'max'} over the ${c.span ?? 'response'} span`],
  ['test', c.test ?? 'per-sample Mann–Whitney (two-sided)'],
  [
    'ranked by',
    c.rank_by === 'evidence'
      ? "the evidence: the test's p ascending (ties: its effect, Cohen's d, latent index)"
      : `${c.rank_by ?? 'auc'} (ties: Cohen's d, then latent index)`,
  ],
  [
    'latents selected',
    `${set.selected.length}: ${set.selected.slice(0, 40).join(', ')}${set.selected.length > 40 ? ', …' : ''}`,
  ],
  ['hook point', hookOf(set)],
])}
<p>The ${top.length} top-ranked latents (a = off-topic, b = on-topic; strat_auc = mean over prompts of the share of a prompt's off-topic samples above its on-topic one, ties ½; p_strat = its exact within-prompt p; q = Benjamini–Hochberg adjusted p of the test; AUC, d (Cohen's d), freq (share of samples where the pooled code is non-zero) and mean count every sample):</p>
${table(['rank', 'latent', 'label', 'selected', 'strat_auc', 'p_strat', 'q', 'AUC', 'd', 'freq a', 'freq b', 'mean a', 'mean b'], rows)}`;
}

function metricsSection(m: MetricsSummary): string {
  const head = ['condition', 'metric', 'estimate', 'bootstrap CI', 'Wilson', 'Wald (paper)'];
  const rows: Cell[][] = [];
  for (const [name, c] of Object.entries(m.conditions)) {
    for (const metric of METRICS) {
      const v = c.metrics[metric] as (MetricValue & { wilson?: [number, number]; wald?: [number, number] }) | undefined;
      if (!v) continue;
      rows.push([
        escapeHtml(name),
        escapeHtml(metricInfo(metric).label),
        num(valueText(metric, v.estimate)),
        num(ciText(metric, v.ci)),
        num(ciText(metric, v.wilson)),
        num(ciText(metric, v.wald)),
      ]);
    }
  }
  const counts = Object.entries(m.conditions).map(([name, c]) => [
    escapeHtml(name),
    num(String(c.n_trials)),
    num(String(c.n_errors ?? 0)),
    escapeHtml(JSON.stringify(c.errors ?? {})),
    num(String(c.n_clusters ?? '—')),
  ]);
  const diffs = (m.differences ?? []).map((d) => [
    escapeHtml(`${d.a} − ${d.b}`),
    escapeHtml(metricInfo(d.metric).label),
    num(valueText(d.metric, d.estimate)),
    num(ciText(d.metric, d.ci)),
    num(pct(d.relative)),
    num(d.relative_ci ? `[${pct(d.relative_ci[0])}, ${pct(d.relative_ci[1])}]` : '—'),
    num(fmt(d.p)),
  ]);
  return `<h2>ESR metrics</h2>
<p>Intervals: ${escapeHtml(ciDescription(m.bootstrap))}. Wilson and the paper's Wald intervals are shown beside them for comparison (they ignore the clustering of trials by feature).</p>
${table(['condition', 'trials counted', 'excluded', 'exclusions', 'clusters'], counts)}
${table(head, rows)}
${diffs.length ? `<h3>Differences between conditions</h3><p>a − b; relative = (b − a)/b; p: two-sided permutation test.</p>${table(['a − b', 'metric', 'difference', 'CI', 'relative', 'relative CI', 'p'], diffs)}` : ''}`;
}

function trialsSection(trials: Trial[]): string {
  const judges = [...new Set(trials.map((t) => t.judge?.id).filter((x): x is string => typeof x === 'string'))];
  const conditions = [...new Set(trials.map((t) => t.condition))];
  const heuristic = judges.some((j) => j === 'heuristic' || j.startsWith('heuristic'));
  const rows = conditions.map((c) => {
    const mine = trials.filter((t) => t.condition === c);
    return [
      escapeHtml(c),
      num(String(mine.length)),
      num(String(new Set(mine.map((t) => t.feature)).size)),
      num(String(mine.filter((t) => t.error).length)),
      num(String(mine.filter((t) => t.judge?.error).length)),
    ];
  });
  return `<h2>Trials and judge</h2>
${table(['condition', 'trials', 'features', 'trial errors', 'judge errors'], rows)}
${facts([['judge', judges.join(', ') || '—']])}
${
  heuristic
    ? `<div class="warning"><b>heuristic judge = approximation.</b> These trials were scored by the offline heuristic judge, not an LLM judge: ${escapeHtml(HEURISTIC_NOTE)}. Treat every metric here as a smoke test of the pipeline, not as a measurement of ESR.</div>`
    : `<div class="note">Attempts were segmented and scored 0–100 by the LLM judge named above; the judge's prompt hash is in the trials' provenance.</div>`
}`;
}

const METHOD_NOTES = `<h2>Method notes</h2>
<ul>
<li><b>Interventions</b> at the steering hook point on every position, with the SAE error term kept: f = encode(h), err = h − decode(f); <i>add v</i> sets f[i] += v, <i>clamp 0</i> sets f[i] = 0; h′ = decode(f) + err. Ablation = the steering entry plus clamp 0 for every detector latent.</li>
<li><b>Off-topic samples</b> pair each prompt with another prompt's own response through a seeded derangement; on-topic samples pair each prompt with its own response. Codes are pooled per sample over the recorded span.</li>
<li><b>Trial metrics</b> (attempt scores a<sub>0</sub>…a<sub>k−1</sub>): multi-attempt rate = share with k &gt; 1; ESR rate = share with k &gt; 1 and a<sub>k−1</sub> &gt; a<sub>0</sub>; improvement rate = ESR / multi-attempt; first-attempt score = mean a<sub>0</sub>; score delta = mean a<sub>k−1</sub> − a<sub>0</sub> over multi-attempt trials. Trials with errors are kept in the store and counted as exclusions, never dropped silently.</li>
<li><b>Uncertainty</b>: trials of one steered feature are correlated, so intervals come from a cluster bootstrap over features (BCa by default); paired designs resample matched units together.</li>
</ul>`;

export interface ReportOptions extends FigureOptions {
  /** Example responses per condition (0: none). Default 3. */
  examples?: number;
}

/** The paper's numbers beside ours when the run is one of the paper's configurations; '' otherwise. */
function paperComparison(dir: string, metrics: MetricsSummary & { provenance?: unknown }): string {
  const match = matchPaper(runShape(dir, metrics));
  return match ? paperSection(match, metrics) : '';
}

/** The whole report as one HTML string (figures drawn in memory, nothing written). */
export async function buildReport(dir: string, o: ReportOptions = {}): Promise<string> {
  if (!existsSync(dir)) throw new InputError(`${dir}: run directory not found`);
  const has = (f: string): boolean => existsSync(join(dir, f));
  const set = has(RUN_FILES.latents) ? readLatentSet(join(dir, RUN_FILES.latents)) : null;
  const metrics: (MetricsSummary & { provenance?: unknown }) | null = has(RUN_FILES.metrics)
    ? readJson(join(dir, RUN_FILES.metrics))
    : null;
  const trials = has(RUN_FILES.trials) ? readTrials(join(dir, RUN_FILES.trials)) : null;
  if (!set && !metrics && !trials)
    throw new InputError(
      `${dir}: nothing to report (no ${RUN_FILES.latents}, ${RUN_FILES.metrics} or ${RUN_FILES.trials})`,
    );
  const figures = await buildFigures(dir, o);
  const kind =
    set && (metrics || trials) ? 'discovery and ablation' : set ? 'off-topic detector discovery' : 'ablation';
  const sections = [
    `<h1>ESR run report: ${escapeHtml(basename(resolve(dir)))}</h1>
<p class="muted">${escapeHtml(kind)} run in <code>${escapeHtml(resolve(dir))}</code>; report written by esr-toolkit ${escapeHtml(packageVersion())}.</p>`,
    set ? discoverySection(set) : '',
    trials ? trialsSection(trials) : '',
    metrics ? metricsSection(metrics) : '',
    metrics ? paperComparison(dir, metrics) : '',
    trials ? examplesSection(pickExamples(trials, o.examples ?? 3), o.examples ?? 3) : '',
    figures.length ? `<h2>Figures</h2>\n${figures.map((f, i) => figureHtml(f, i + 1)).join('\n')}` : '',
    METHOD_NOTES,
    `<h2>Provenance</h2>
${facts([
  ['model', JSON.stringify(pathOf(set?.model) ?? trials?.[0]?.provenance?.model ?? '—')],
  ['SAE', JSON.stringify(pathOf(set?.sae) ?? trials?.[0]?.provenance?.sae ?? '—')],
  ['feature hook point', set ? hookOf(set) : '—'],
  [
    'files',
    [
      'latents.json',
      'ranking.arrow',
      'activations.acts',
      'trials.jsonl',
      'metrics.json',
      'responses.json',
      'summary.md',
    ]
      .filter(has)
      .join(', '),
  ],
])}
${set ? details('latents.json: model, SAE and run provenance', { model: set.model, sae: set.sae, provenance: set.provenance }) : ''}
${metrics?.provenance ? details('metrics.json provenance', { provenance: metrics.provenance, bootstrap: metrics.bootstrap }) : ''}
${trials?.length ? details('provenance of the first trial', trials[0].provenance) : ''}`,
  ];
  return page(`ESR report: ${basename(resolve(dir))}`, sections.filter(Boolean).join('\n'));
}

/** Writes DIR/report.html (or `out`) atomically; returns its path. */
export async function writeReport(dir: string, out = join(dir, REPORT_FILE), o: ReportOptions = {}): Promise<string> {
  writeFileAtomic(out, await buildReport(dir, o));
  return out;
}
