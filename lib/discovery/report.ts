// The ranked latents as a table (printed top 10, summary.md) with the interval, stability and held-out
// columns, and summary.md itself.
import { markdownTable } from '../io/markdown.ts';
import { rankHeader, topRows } from '../stats/table.ts';
import type { Analysis } from './analyse.ts';

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x));
const fmt2 = (x: number | null | undefined): string => (typeof x === 'number' ? x.toFixed(2) : '—');

/** Header and rows of the `n` top-ranked latents: the ranking's columns, then the strat_auc interval, stability, held-out strat_auc and label. */
export function rankedRows(an: Analysis, n: number, labels?: Map<number, string>): string[][] {
  const header = rankHeader(an.result);
  const stats = new Map(an.latentSet.latents.map((e) => [e.latent, e.stats]));
  const ci = an.latentSet.latents.some((e) => e.stats.strat_auc_lo !== undefined);
  if (ci) header.splice(3, 0, 'strat_auc 95% CI');
  if (an.stability) header.push('stability');
  if (an.holdout) header.push('strat_auc_holdout');
  if (labels) header.push('label');
  const rows = topRows(an.result, n).map((row, i) => {
    const l = an.result.order[i];
    const e = stats.get(l);
    if (ci) row.splice(3, 0, e ? `[${fmt2(e.strat_auc_lo)}, ${fmt2(e.strat_auc_hi)}]` : '');
    if (an.stability)
      row.push(
        `${Math.round(an.stability.frequency[l] * an.stability.derangements.length)}/${an.stability.derangements.length}`,
      );
    if (an.holdout) row.push(fmt(an.holdout.stats.strat_auc[l]));
    if (labels) row.push(labels.get(l) ?? '');
    return row;
  });
  return [header, ...rows];
}

/** What was compared, e.g. `240 off-topic vs 48 on-topic samples; within-prompt test over 48 prompts (K = 5)`. */
export function unitsText(an: Analysis): string {
  const { stats, units } = an.result;
  const samples = `${stats.n_a} off-topic vs ${stats.n_b} on-topic samples`;
  if (units.unit === 'sample') return `${samples}; per-sample test`;
  const k = units.k_min === units.k_max ? `${units.k_min}` : `${units.k_min}–${units.k_max}`;
  return `${samples}; within-prompt test over ${units.prompts} prompts (K = ${k})`;
}

export interface SummaryContext {
  /** One sentence naming what was analysed (model, SAE, prompts, derangements, seed). */
  source: string;
  span: 'response' | 'all';
  labels?: Map<number, string>;
}

/** The paragraph that says which test ran and what its columns mean. */
function testParagraph(an: Analysis): string {
  const { units, stats } = an.result;
  const side = stats.alternative === 'greater' ? 'one-sided (off-topic higher)' : 'two-sided';
  const dup = units.duplicates
    ? ` ${units.duplicates} off-topic samples repeated a response their prompt already had and counted once.`
    : '';
  const approx = units.normal_approx
    ? ` ${units.normal_approx} latents' p came from the normal approximation (too many informative prompts for the exact convolution).`
    : '';
  if (units.unit === 'sample')
    return (
      `The test is Mann–Whitney over all samples (\`--unit sample\`, ${side}): it counts the K off-topic samples of a prompt as independent although they share the prompt and reuse responses, so its p-values are approximate.` +
      (units.note ? ` (The within-prompt test could not run: ${units.note}.)` : '')
    );
  return (
    `The test is the within-prompt rank test (${side}): each prompt's on-topic sample is compared with its own off-topic samples; ` +
    '`strat_auc` is the mean over prompts of the share of off-topic samples above the on-topic one (ties ½), ' +
    '`p_strat` its exact p-value under within-prompt exchangeability, `q_bh` Benjamini–Hochberg over the latents that vary within at least one prompt; the 95% CI of strat_auc is a BCa bootstrap over prompts. `auc`, `cohens_d`, `freq_*` and `mean_*` count every sample.' +
    dup +
    approx
  );
}

/** summary.md: what was compared, how many latents pass, stability, the held-out split, the top 26. */
export function summaryMarkdown(an: Analysis, ctx: SummaryContext): string {
  const r = an.result;
  const c = an.latentSet.criterion as Record<string, unknown>;
  const lines = [
    '# Off-topic detector latents',
    '',
    ctx.source,
    `Compared: ${unitsText(an)}${an.holdout ? ' (selection prompts)' : ''}, ${c.pool}-pooled over the ${ctx.span === 'all' ? 'whole conversation' : 'response'}.`,
    testParagraph(an),
    `Selection rule \`${r.criterion.method}\`: **${an.latentSet.selected.length} latents pass**. Ranked by ${c.rank_by === 'evidence' ? `the evidence (${r.stats.tested} ascending; ties: ${r.stats.tested === 'p_strat' ? 'strat_auc' : 'AUC'}, Cohen's d)` : `${c.rank_by} (ties: the test's effect, Cohen's d)`}.`,
    '',
  ];
  if (an.stability) {
    const s = an.stability;
    lines.push(
      `**Stability across derangements.** For each of the ${s.derangements.length} derangements, each prompt's off-topic sample of that derangement against its on-topic sample, the same test and rule; ` +
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
    const { split, stats, crossed } = an.holdout;
    lines.push(
      `**Held-out check.** ${split.heldOut.length} of ${split.heldOut.length + split.train.length} prompts (fraction ${split.fraction}, seed ${split.seed}) were held out with all their samples; ` +
        `ranking and selection use the other ${split.train.length}. The \`strat_auc_holdout\` column is each latent's strat_auc on the held-out prompts (${stats.n_a} off-topic vs ${stats.n_b} on-topic samples), ` +
        `whose off-topic samples carry held-out responses only${crossed ? ` (${crossed} samples whose response was on the other side were left out)` : ''}.`,
      `Held-out prompts: ${split.heldOut.join(', ')}.`,
      '',
    );
  }
  const [head, ...rows] = rankedRows(an, 26, ctx.labels);
  lines.push(markdownTable(head, rows), '');
  if (an.holdout && an.latentSet.selected.length) {
    const auc = an.latentSet.selected.map((l) => an.holdout!.stats.strat_auc[l]);
    const mean = auc.reduce((s, x) => s + x, 0) / auc.length;
    lines.push(
      `Selected latents on the held-out prompts: mean strat_auc ${fmt(mean)}, lowest ${fmt(Math.min(...auc))}.`,
      '',
    );
  }
  lines.push(
    'Files: `latents.json` (ranked latent set), `ranking.arrow` (every latent), `activations.acts/` (codes), `responses.json`.',
    '',
  );
  return lines.join('\n');
}
