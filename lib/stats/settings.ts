// The settings of `analyze stats` (differential activation of every latent between two conditions of an
// activation store), declared once: flags, --help, checks and the options table in docs/commands.md.
import { int, num, oneOf, text } from '../settings/kinds.ts';
import { TEST_ALTERNATIVES, UNIT_KINDS } from './detectors.ts';
import { FDR_METHODS, RANK_KEYS, type SelectionMethod } from './selection.ts';

const METHODS = ['frequency', 'separability', 'effect'] as const satisfies readonly SelectionMethod[];

export const STATS_SETTINGS = {
  activations: text({ doc: 'activation store directory (NAME.acts)', expected: 'a store directory', key: null }),
  a: text({ doc: 'condition of group a', default: 'off_topic', key: null }),
  b: text({ doc: 'condition of group b', default: 'on_topic', key: null }),
  pool: oneOf(['max', 'mean'] as const, { doc: 'pooling of each sample over its span', default: 'max', key: null }),
  span: text({ doc: 'span to pool over: response, all, or an extra span name', default: 'response', key: null }),
  method: oneOf(METHODS, { doc: 'selection rule', default: 'separability', key: null }),
  unit: oneOf(UNIT_KINDS, {
    doc: 'the test: prompt (within-prompt rank test; needs one group-b and ≥ 1 group-a samples per prompt, else it says why and runs the per-sample test) or sample (Mann–Whitney over all samples)',
    default: 'prompt',
    key: null,
  }),
  alternative: oneOf(TEST_ALTERNATIVES, {
    doc: 'greater: group a higher (one-sided); two-sided: either way',
    default: 'greater',
    key: null,
  }),
  fdr: oneOf(FDR_METHODS, {
    doc: 'q-value of the effect rule: bh (Benjamini–Hochberg) or by (Benjamini–Yekutieli)',
    default: 'bh',
    key: null,
  }),
  minFreq: num({
    doc: 'frequency rule: least share of group-a samples where the latent fires',
    min: 0,
    max: 1,
    default: 0.8,
    key: null,
  }),
  alpha: num({ doc: 'effect rule: q-value bound', min: 0, max: 1, open: 'min', default: 0.05, key: null }),
  minD: num({ doc: "effect rule: Cohen's d bound", default: 0.8, key: null }),
  rankBy: oneOf(RANK_KEYS, {
    doc: "ranking key; evidence = the test's p (p_strat, or p_mwu with ‹unit› sample); ties by strat_auc (AUC), Cohen's d, latent index",
    default: 'evidence',
    key: null,
  }),
  top: int({
    doc: 'top-ranked latents listed in latents.json (besides every selected one)',
    min: 0,
    default: 100,
    key: null,
  }),
  show: int({ doc: 'rows printed', min: 0, default: 20, key: null }),
  out: text({ doc: 'output directory', expected: 'a directory', default: '.', key: null }),
};
