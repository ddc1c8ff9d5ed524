// The ranked latents as a table (printed top 10, summary.md) with the stability and held-out columns,
// and summary.md itself.
import { markdownTable } from '../io/markdown.ts';
import { RANK_HEADER, topRows } from '../stats/table.ts';
import type { Analysis } from './analyse.ts';

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** Header and rows of the `n` top-ranked latents: the ranking's columns, then stability, held-out AUC and label. */
export function rankedRows(an: Analysis, n: number, labels?: Map<number, string>): string[][] {
  const header = [...RANK_HEADER];
  if (an.stability) header.push('stability');
  if (an.holdout) header.push('auc_holdout');
  if (labels) header.push('label');
  const rows = topRows(an.result, n).map((row, i) => {
    const l = an.result.order[i];
    if (an.stability)
      row.push(
        `${Math.round(an.stability.frequency[l] * an.stability.derangements.length)}/${an.stability.derangements.length}`,
      );
    if (an.holdout) row.push(fmt(an.holdout.stats.auc[l]));
    if (labels) row.push(labels.get(l) ?? '');
    return row;
  });
  return [header, ...rows];
}

/** What was compared: `52 prompts: off-topic (260 samples) vs on-topic (52 samples)`, or samples when they are the unit. */
export function unitsText(an: Analysis): string {
  const { stats, units } = an.result;
  if (units.unit === 'sample') return `${stats.n_a} off-topic vs ${stats.n_b} on-topic samples`;
  return `${stats.n_a} off-topic vs ${stats.n_b} on-topic prompt values (${units.samples_a} off-topic and ${units.samples_b} on-topic samples, averaged per prompt)`;
}

export interface SummaryContext {
  /** One sentence naming what was analysed (model, SAE, prompts, derangements, seed). */
  source: string;
  span: 'response' | 'all';
  labels?: Map<number, string>;
}

/** summary.md: what was compared, how many latents pass, stability, the held-out split, the top 26. */
export function summaryMarkdown(an: Analysis, ctx: SummaryContext): string {
  const r = an.result;
  const c = an.latentSet.criterion as Record<string, unknown>;
  const lines = [
    '# Off-topic detector latents',
    '',
    ctx.source,
    `Compared: ${unitsText(an)}${an.holdout ? ' (selection prompts)' : ''}, ${c.pool}-pooled over the ${ctx.span === 'all' ? 'whole conversation' : 'response'}.` +
      (r.units.unit === 'prompt'
        ? ' The prompt is the independent unit: its pooled values are averaged over the derangements, so `n_a`/`n_b` in ranking.arrow count prompts, and the p- and q-values do not treat reused responses as independent.'
        : ''),
    `Selection rule \`${r.criterion.method}\`: **${an.latentSet.selected.length} latents pass**. Ranked by ${c.rank_by} (ties: Cohen's d).`,
    '',
  ];
  if (an.stability) {
    const s = an.stability;
    lines.push(
      `**Stability across derangements.** Each of the ${s.derangements.length} derangements' off-topic samples was compared with all on-topic samples and selected by the same rule; ` +
        `the \`stability\` column says in how many derangements the latent passes (selected per derangement: ${s.selectedPerDerangement.join(', ')}; ` +
        `in every one: ${s.frequency.reduce((n, f) => n + (f === 1 ? 1 : 0), 0)}).`,
      '',
    );
  } else
    lines.push(
      'Stability across derangements: not computed (the sample ids do not name derangements as `off:<k>:<i>`).',
      '',
    );
  if (an.holdout) {
    const { split, stats } = an.holdout;
    lines.push(
      `**Held-out check.** ${split.heldOut.length} of ${split.heldOut.length + split.train.length} prompts (fraction ${split.fraction}, seed ${split.seed}) were held out with all their samples; ` +
        `ranking and selection use the other ${split.train.length}. The \`auc_holdout\` column is each latent's AUC on the held-out prompts (${stats.n_a} off-topic vs ${stats.n_b} on-topic ${an.result.units.unit} values). ` +
        `The split is by prompt: an off-topic sample of a held-out prompt may carry a selection prompt's response, so the check is out-of-sample in prompts, not fully in responses.`,
      `Held-out prompts: ${split.heldOut.join(', ')}.`,
      '',
    );
  }
  const [head, ...rows] = rankedRows(an, 26, ctx.labels);
  lines.push(markdownTable(head, rows), '');
  if (an.holdout && an.latentSet.selected.length) {
    const auc = an.latentSet.selected.map((l) => an.holdout!.stats.auc[l]);
    const mean = auc.reduce((s, x) => s + x, 0) / auc.length;
    lines.push(`Selected latents on the held-out prompts: mean AUC ${fmt(mean)}, lowest ${fmt(Math.min(...auc))}.`, '');
  }
  lines.push(
    'Files: `latents.json` (ranked latent set), `ranking.arrow` (every latent), `activations.acts/` (codes), `responses.json`.',
    '',
  );
  return lines.join('\n');
}
