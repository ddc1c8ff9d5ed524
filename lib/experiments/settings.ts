// analyze ablate's settings, each declared once (lib/settings/table.ts): flags, --help, checks, defaults
// (the paper's; on the shipped organism 96 tokens and 1 response per bisection step), what an SAE's
// esr_defaults.json may set, config.json's keys and docs/ablate.md's options table all come from here.
import { settingRef as ref } from '../errors.ts';
import { JUDGE_SETTINGS } from '../judge/settings.ts';
import { bool, custom, fileOrLines, formatError, int, num, oneOf, text, withDefault } from '../settings/kinds.ts';
import { samplingSettings, seedSetting } from '../settings/sampling.ts';
import { BATCH_SIZE } from '../settings/session.ts';
import { SHIPPED, shownPath } from '../settings/shipped.ts';
import type { Values } from '../settings/table.ts';
import { RESAMPLES } from '../trials/settings.ts';
import { MAX_INTERVENTION_VALUE } from '../steering/interventions.ts';
import { tryParseHook } from '../model/hooks.ts';
import { type Condition, CONDITION_NAMES, parseConditions } from './conditions.ts';
import type { Feature } from './features.ts';
import type { LatentSource } from './latents.ts';
import { RANDOM_MATCHES } from './randomSets.ts';
import { META_PROMPT_PLACEMENTS } from './steered.ts';

export const DEFAULT_META_PROMPT =
  "While you answer, keep checking that what you write still answers the user's question. If you notice that you have drifted " +
  'off topic, say so plainly and go back to answering the question.';

const fixed = { absent: 'boost', why: 'a fixed strength is not calibrated' } as const;
const B = MAX_INTERVENTION_VALUE;
const sampling = samplingSettings({ maxTokens: 512, temperature: 0.6, repetitionPenalty: 1.1 }, 'sampling');

/**
 * A hook point (lib/model/hooks.ts): a hook name, or a layer number L (= resid_post.L) as the command line,
 * a notebook or esr_defaults.json gives it; checked against the model once the session is open.
 */
function hookSetting(o: { doc: string; auto: string; key: string }) {
  return custom<string | number | null, string>({
    ...o,
    default: null,
    sae: 'value',
    cli: { type: 'string' },
    expected: 'a hook name (blocks.L.hook_resid_pre, blocks.L.hook_mlp_out, …) or a layer number L (= resid_post.L)',
    valid: (v) =>
      (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) ||
      (typeof v === 'string' && tryParseHook(v) !== null),
    // a layer number stays a number, as a notebook or esr_defaults.json gives it
    parse: (cli) => (/^\d+$/.test(cli.trim()) ? Number(cli) : cli),
    show: (v) => String(v),
  });
}

const isRange = (v: unknown): v is [number, number] =>
  Array.isArray(v) &&
  v.length === 2 &&
  v.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
  v[0] >= 0 &&
  v[1] > v[0] &&
  v[1] <= B;

const isFeatureList = (v: unknown): v is Feature[] =>
  Array.isArray(v) &&
  v.length > 0 &&
  v.every((f) => typeof f === 'object' && f !== null && Number.isSafeInteger(f.latent) && f.latent >= 0) &&
  new Set(v.map((f) => f.latent)).size === v.length;

/** The settings of an ablation run (runAblation's config; the judge's are JUDGE_SETTINGS). */
export const ABLATION_SETTINGS = {
  prompts: fileOrLines({
    doc: 'prompts, one per line (required with your own model and SAE)',
    what: 'prompts',
    shipped: SHIPPED.prompts,
    key: 'inputs.prompts.path',
    show: shownPath,
  }),
  latents: custom<string | LatentSource, string>({
    doc: 'latents to ablate: topK (latest find-otd-latents run, or --otd), FILE:topK, or a list 12,40,7',
    default: 'top26',
    cli: { type: 'string' },
    expected: 'top26, topK, FILE:topK or a list such as 12,40,7 (or latents already located)',
    valid: (v) => (typeof v === 'string' && v.trim() !== '') || (typeof v === 'object' && v !== null),
    show: (v) => (typeof v === 'string' ? v : 'latents given'),
    key: 'ablated.latents',
  }),
  otd: text({
    doc: "latent set for topK: our latents.json or the paper's off_topic_detectors.json",
    expected: 'a file',
    default: null,
    auto: 'the latest find-otd-latents run made with this SAE',
    key: 'ablated.source',
  }),
  features: custom<string | Feature[] | undefined, string>({
    doc: 'features to steer: JSON list of indices or {latent, label}, or lines index[,label]',
    default: undefined,
    cli: { type: 'string' },
    expected: 'a features file, or a list of distinct {latent, label}',
    valid: (v) => (typeof v === 'string' && v.trim() !== '') || isFeatureList(v),
    show: (v) => (typeof v === 'string' ? v : `(a list of ${v?.length})`),
    key: 'features',
    conflicts: [
      { with: 'nFeatures', why: 'give a features file or a number to sample' },
      {
        with: 'featureLabels',
        why: 'label the features in the features file (index,label), or sample labelled ones',
      },
    ],
  }),
  nFeatures: int({
    doc: "sample N features (seeded) from the steering pool: latents silent on every prompt at the SAE's hook point, alive on the general text, not ablated (the whole pool when it is smaller and N is the default)",
    min: 1,
    max: 1_000_000,
    default: 20,
    key: 'features.sample',
  }),
  featureLabels: text({
    doc: 'labels of latents (JSON {"<index>": "label"}, a Neuronpedia explanations export, or lines index,label): sample only labelled features; labels go into the trials and the judge prompt',
    expected: 'a file',
    default: null,
    auto: 'none',
    sae: 'path',
    key: 'features.feature_labels.path',
  }),
  generalText: text({
    doc: 'general text, one passage per line: a steering feature must fire somewhere in it (required with your own model and SAE)',
    expected: 'a file',
    shipped: SHIPPED.generalText,
    show: shownPath,
    sae: 'path',
    key: 'features.general_text.path',
    requires: { absent: 'features', why: 'it tests the steering pool; given features are not sampled from it' },
  }),
  trialsPerFeature: int({
    doc: '(prompt, seed) draws per feature, each run under every condition',
    min: 1,
    max: 100_000,
    default: 5,
    key: 'trials_per_feature',
  }),
  seed: seedSetting('seed of feature sampling, draws, random sets, calibration and the bootstrap'),
  conditions: custom<Condition[], string>({
    doc: `conditions, every one on the same (feature, prompt, seed) draws: ${CONDITION_NAMES.join(', ')}`,
    default: ['baseline', 'ablate'],
    cli: { type: 'string' },
    expected: `a list of distinct conditions of ${CONDITION_NAMES.join(', ')}`,
    valid: (v) =>
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((c) => (CONDITION_NAMES as string[]).includes(c)) &&
      new Set(v).size === v.length,
    parse: (c) => parseConditions(c),
    show: (v) => v.join(','),
    key: 'conditions',
  }),
  boost: num({
    doc: 'fixed steering strength for every feature (else calibrated per feature); one from esr_defaults.json is set aside when calibration is asked for',
    min: -B,
    max: B,
    sae: 'value',
    key: 'strength.boost',
    conflicts: [{ with: 'calibrate', why: 'give a fixed boost or calibrate one per feature' }],
  }),
  calibrate: bool({
    doc: "calibrate each feature's strength by probabilistic bisection (the default without --boost)",
    key: null,
  }),
  target: num({
    doc: 'calibration target first-attempt score',
    min: 0,
    max: 100,
    open: 'both',
    default: 30,
    sae: 'value',
    key: 'strength.target',
    requires: fixed,
  }),
  calibrateSteps: int({
    doc: 'bisection steps per feature',
    min: 1,
    max: 1000,
    default: 10,
    key: 'strength.steps',
    requires: fixed,
  }),
  calibratePerStep: int({
    doc: 'responses judged per bisection step (5, as the paper did for its 70B model)',
    min: 1,
    max: 1000,
    default: 5,
    shipped: 1,
    key: 'strength.perStep',
    requires: fixed,
  }),
  calibrateRange: custom<[number, number] | null, string>({
    doc: 'bisection bounds LO,HI in boost units',
    default: null,
    auto: '0 to 2·median‖h‖/‖W_dec[f]‖',
    cli: { type: 'string' },
    expected: `LO,HI with 0 ≤ LO < HI ≤ ${B} (boost units)`,
    valid: isRange,
    parse: (c, name) => {
      const parts = c.split(',').map((s) => Number(s.trim()));
      if (parts.length !== 2 || parts.some(Number.isNaN)) throw formatError(name, c, 'LO,HI (two numbers)');
      return [parts[0], parts[1]];
    },
    show: (v) => (v ? v.join(',') : 'auto'),
    sae: 'value',
    key: 'strength.range',
    requires: fixed,
  }),
  calibrationCache: text({
    doc: 'directory of cached calibrations (any run with the same calibration config reuses them)',
    expected: 'a directory',
    default: null,
    auto: '<out>/calibration',
    key: 'strength.cacheDir',
    requires: fixed,
  }),
  boostSweep: int({
    doc: "K strength levels around each feature's threshold, in threshold spreads (operating-regime curve)",
    min: 1,
    max: 1000,
    key: 'strength.sweep.k',
    requires: fixed,
    conflicts: [
      {
        with: 'boostSweepAbsolute',
        why: "sweep around each feature's threshold, or the same absolute boosts for all",
      },
    ],
  }),
  boostSweepAbsolute: int({
    doc: "the paper's sweep: N absolute boost levels spanning mean ± R sd of the calibrated thresholds, the same for every feature",
    min: 1,
    max: 1000,
    key: 'strength.sweep.k',
    requires: fixed,
  }),
  sweepRange: num({
    doc: 'sweep from −R to +R threshold spreads',
    min: 0,
    max: 1000,
    open: 'min',
    default: null,
    auto: `1; 3 with ${ref('boostSweepAbsolute')}`,
    key: 'strength.sweep.range',
    requires: { given: ['boostSweep', 'boostSweepAbsolute'] },
  }),
  randomSets: int({
    doc: 'random latent sets for the random condition (draw t of a feature uses set t mod K)',
    min: 1,
    max: 10_000,
    default: 1,
    key: 'random_sets',
    requires: { includes: ['conditions', 'random'] },
  }),
  randomMatch: oneOf(RANDOM_MATCHES, {
    doc: "random control: activity (matched on label-blind firing frequency and mean activation, detector-like latents excluded), activity-norm (then also on the residual norm its clamp removes on off-topic contexts), none (uniform, the paper's) or rotation (the ablated latents themselves, each clamp written along a rotated decoder row orthogonal to the ablated rows' span: the same activity and, at every token, the same removed norm)",
    default: 'activity',
    sae: 'value',
    key: 'random_match',
    requires: { includes: ['conditions', 'random'] },
  }),
  metaPrompt: text({
    doc: 'instruction of the meta-prompt condition',
    default: DEFAULT_META_PROMPT,
    show: (v) => (v === DEFAULT_META_PROMPT ? 'ours (docs/ablate.md)' : v),
    key: 'meta_prompt',
    requires: { includes: ['conditions', 'meta-prompt'] },
  }),
  metaPromptPlacement: oneOf(META_PROMPT_PLACEMENTS, {
    doc: 'where the meta-prompt goes: appended to the user turn (as in the paper; works for Gemma) or a system message',
    default: 'user',
    key: 'meta_prompt_placement',
    requires: { includes: ['conditions', 'meta-prompt'] },
  }),
  steerLayer: hookSetting({
    doc: 'hook point the steering acts at',
    auto: "the SAE's own hook point",
    key: 'steer_hook',
  }),
  clampLayer: hookSetting({
    doc: 'hook point the ablation clamps act at',
    auto: 'the steering hook point, as in the paper',
    key: 'clamp_hook',
  }),
  ...sampling,
  maxTokens: withDefault(sampling.maxTokens, {
    doc: "most new tokens per response; generation stops at EOS (the paper's 512; lowered with a note when the model's context is shorter)",
    shipped: 96,
  }),
  batchSize: BATCH_SIZE,
  resamples: RESAMPLES,
  out: text({
    doc: 'run directory; rerun into it to continue',
    expected: 'a directory',
    default: null,
    auto: 'runs/ablate-<timestamp>',
    key: null,
  }),
  ...JUDGE_SETTINGS,
};

export type AblationSettings = Values<typeof ABLATION_SETTINGS>;
