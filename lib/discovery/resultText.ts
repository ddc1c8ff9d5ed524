// The terminal's account of a finished discovery (find-otd-latents, or the merge of its shards): what was
// compared, how many latents pass, the stability and holdout notes, and the top of the ranking.
import { tableText } from '../stats/table.ts';
import type { Analysis } from './analyse.ts';
import { rankedRows, unitsText } from './report.ts';

export function discoveryResultText(an: Analysis, labels: Map<number, string> | undefined, seconds: string): string {
  const lines = [
    `${unitsText(an)}${an.holdout ? ` (selection prompts; ${an.holdout.split.heldOut.length} prompts held out)` : ''}; ` +
      `${an.latentSet.selected.length} latents pass the ${an.result.criterion.method} rule (${seconds} s)`,
  ];
  if (an.stability)
    lines.push(
      `stability: selected in k of ${an.stability.derangements.length} derangements (each prompt's off:<k>:<i> vs its on-topic sample)`,
    );
  if (an.holdout) lines.push('strat_auc_holdout: strat_auc on the held-out prompts');
  lines.push(tableText(rankedRows(an, 10, labels), labels !== undefined));
  return lines.join('\n');
}
