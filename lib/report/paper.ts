// The paper's published numbers beside a run's, when the run's model and SAE are one of the paper's
// configurations (lib/report/paper-numbers.json: every number with its source in the paper).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJson } from '../io/json.ts';
import { loadModelConfig } from '../model/config.ts';
import { metricInfo, type MetricsSummary } from '../plot/metricsInfo.ts';
import { escapeHtml, num, table } from './html.ts';
import PAPER from './paper-numbers.json' with { type: 'json' };

/** What identifies a paper configuration: the model's shape and the SAE's size and hook point. */
export interface RunShape {
  model: { architecture: string; hidden_size: number; num_layers: number; vocab_size: number } | null;
  /** `hook` is the SAE's hook point name; runs recorded before it was read every SAE at resid_post.layer. */
  sae: { d_in: number; d_sae: number; layer: number; hook?: string } | null;
}

interface PaperResult {
  condition: string;
  metric: string;
  value: number;
  n?: number;
  bound?: '<' | '<=';
  source: string[];
  scope?: string;
}
type PaperConfiguration = (typeof PAPER.configurations)[number] & { results: PaperResult[] };

export interface PaperMatch {
  configuration: PaperConfiguration;
  /** 'model and SAE', or 'model' when the run does not record its SAE's size (older runs). */
  matchedOn: 'model and SAE' | 'model';
}

const sameFields = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  Object.keys(a).every((k) => a[k] === b[k]);

/** The paper configuration a run's shape is, if any (an SAE of another size or hook point is not a match). */
export function matchPaper(shape: RunShape): PaperMatch | null {
  if (!shape.model) return null;
  const sae = shape.sae && { hook: `blocks.${shape.sae.layer}.hook_resid_post`, ...shape.sae };
  for (const c of PAPER.configurations as PaperConfiguration[]) {
    if (!sameFields(c.model, shape.model)) continue;
    if (sae && !sameFields(c.sae, sae)) continue;
    return { configuration: c, matchedOn: shape.sae ? 'model and SAE' : 'model' };
  }
  return null;
}

/** The shape recorded in metrics.json (ablate writes it), else the model's config.json from the run's settings. */
export function runShape(dir: string, metrics: { provenance?: unknown } | null): RunShape {
  const recorded = (metrics?.provenance as { shape?: RunShape } | undefined)?.shape;
  if (recorded) return recorded;
  const settings = join(dir, 'config.json');
  const modelPath = existsSync(settings) ? readJson(settings)?.config?.inputs?.model?.path : undefined;
  if (typeof modelPath !== 'string' || !existsSync(join(modelPath, 'config.json'))) return { model: null, sae: null };
  try {
    return { model: modelShape(loadModelConfig(modelPath)), sae: null };
  } catch {
    return { model: null, sae: null };
  }
}

export function modelShape(c: { architecture: string; hiddenSize: number; numLayers: number; vocabSize: number }) {
  return { architecture: c.architecture, hidden_size: c.hiddenSize, num_layers: c.numLayers, vocab_size: c.vocabSize };
}

function paperValue(r: PaperResult): string {
  const pct = metricInfo(r.metric).scale === 'fraction';
  const v = pct ? `${(100 * r.value).toFixed(1)}%` : r.value.toFixed(1);
  return `${r.bound === '<' ? '< ' : r.bound === '<=' ? '≤ ' : ''}${v}`;
}

/** The report section: per paper number, ours beside it (estimate and interval), with the source. */
export function paperSection(m: PaperMatch, metrics: MetricsSummary): string {
  const c = m.configuration;
  const sources = PAPER.sources as Record<string, string>;
  const rows = c.results.map((r) => {
    const ours = metrics.conditions[r.condition]?.metrics[r.metric];
    const scale =
      metricInfo(r.metric).scale === 'fraction'
        ? (x: number) => `${(100 * x).toFixed(1)}%`
        : (x: number) => x.toFixed(1);
    const oursText =
      ours && Number.isFinite(ours.estimate)
        ? `${scale(ours.estimate)}${ours.ci ? ` [${scale(ours.ci[0])}, ${scale(ours.ci[1])}]` : ''}`
        : '—';
    return [
      escapeHtml(r.condition),
      escapeHtml(metricInfo(r.metric).label),
      num(escapeHtml(oursText)),
      num(escapeHtml(paperValue(r))),
      num(r.n === undefined ? '—' : r.n.toLocaleString('en-US')),
      escapeHtml(`${r.source.join(', ')}${r.scope ? ` (${r.scope})` : ''}`),
    ];
  });
  const used = [...new Set(c.results.flatMap((r) => r.source))];
  return `<h2>The paper's numbers beside ours</h2>
<p>This run's model and SAE match the paper's configuration <b>${escapeHtml(c.label)}</b> (matched on the ${escapeHtml(m.matchedOn)}${m.matchedOn === 'model' ? '; this run does not record its SAE size' : ''}; a model of the same shape, e.g. another release of the same size, matches too). ${escapeHtml(PAPER.note)}</p>
${table(['condition', 'metric', 'ours [CI]', 'paper', 'paper n', 'source'], rows)}
<ul class="sources">${used.map((s) => `<li><b>${escapeHtml(s)}</b>: ${escapeHtml(sources[s])}</li>`).join('')}</ul>
<p class="muted">${escapeHtml(PAPER.paper)}.</p>`;
}
