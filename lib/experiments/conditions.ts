// The experimental conditions of `analyze ablate`, one entry each: what it intervenes beside the steering
// entry, the instruction it gives the model (in the user's turn or a system message), what it prepares (and
// requires) once the features are known, and what summary.md and metrics.json's provenance say about it. A
// setting only one condition reads is declared in lib/experiments/settings.ts with `requires: {includes:
// ['conditions', NAME]}`. To add a condition, add an entry here (docs/extending.md).
import { join } from 'node:path';
import { SettingError, settingRef as ref } from '../errors.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import type { HookPoint } from '../model/hooks.ts';
import { interventionAt } from '../steering/interventions.ts';
import type { Intervention } from '../steering/types.ts';
import type { Sae } from '../sae/index.ts';
import { openStore } from '../store/reader.ts';
import type { Feature } from './features.ts';
import type { ResolvedLatents } from './latents.ts';
import { normMisses, type RandomControl, randomControl, type RandomMatch, type RandomSet } from './randomSets.ts';
import { ROTATION_FILE, rotationRowKey, writeRotationFile } from './rotation.ts';
import type { Instruction, MetaPromptPlacement } from './steered.ts';

/** The settings conditions read (AblationOptions has them all). */
export interface ConditionOptions {
  randomSets: number;
  /** How the random control's latents are chosen: matched on label-blind activity, or uniformly (the paper's). */
  randomMatch: RandomMatch;
  metaPrompt: string;
  /** Where the meta-prompt goes: appended to the user's turn (the paper's way) or a system message. */
  metaPromptPlacement: MetaPromptPlacement;
}

/** What a condition's trials draw on: the ablated latents, the clamps' hook point, the random sets, the meta-prompt. */
export interface ConditionResources {
  ablated: number[];
  clampHook: HookPoint;
  randomSets: RandomSet[];
  metaPrompt: string;
  metaPromptPlacement: MetaPromptPlacement;
  /** The random control as prepared (rule, exclusions, sets), when the random condition runs. */
  random?: RandomControl;
}

/** What a condition may prepare from, once the features are known. */
export interface ConditionSetup extends ConditionOptions {
  out: string;
  latents: ResolvedLatents;
  features: Feature[];
  dSae: number;
  /** The SAE's decoder rows (the random control measures what clamping removes). */
  sae: Pick<Sae, 'decoder' | 'dIn'>;
  seed: number;
  log: (line: string) => void;
}

/** One trial of a condition at draw `t` of a feature: interventions beside the steering entry, id suffix. */
export interface ConditionTrial {
  interventions: Intervention[];
  /** Appended to the condition name in the trial id (`random#k`); none by default. */
  suffix?: string;
  randomSet?: number;
}

export interface ConditionEntry {
  describe: string;
  /** false: the feature is not steered (one trial per draw, no boost, counted in every sweep level). */
  steered: boolean;
  /** The condition clamps the detector latents (or as many others): they must be located before the run. */
  clampsLatents?: boolean;
  /** The instruction given to the model (none without). */
  instruction?: (r: Pick<ConditionResources, 'metaPrompt' | 'metaPromptPlacement'>) => Instruction;
  /** Resources made once the features are known (may refuse: e.g. nothing to match a control against). */
  prepare?: (s: ConditionSetup) => Promise<Partial<ConditionResources>>;
  trial: (r: ConditionResources, t: number) => ConditionTrial;
  /** Lines for summary.md. */
  summary?: (r: ConditionResources) => string[];
  /** Entries for metrics.json's provenance. */
  provenance?: (r: ConditionResources) => Record<string, unknown>;
}

const clamps = (latents: number[], hook: HookPoint): Intervention[] =>
  latents.map((latent) => interventionAt(hook, { latent, value: 0, mode: 'clamp' }));

/** Random set k's clamps: its latents, along set k's rotated rows under the rotation rule. */
function randomClamps(r: ConditionResources, k: number): Intervention[] {
  const rows = r.random?.rows?.[k];
  const list = clamps(r.randomSets[k].latents, r.clampHook);
  if (!rows) return list;
  const dIn = rows.length / list.length;
  return list.map((iv, i) => ({
    ...iv,
    decoderRow: { key: rotationRowKey(k, i), values: rows.slice(i * dIn, (i + 1) * dIn) },
  }));
}

export const CONDITIONS = {
  baseline: {
    describe: 'steer along the feature',
    steered: true,
    trial: () => ({ interventions: [] }),
  },
  ablate: {
    describe: 'steer, with the detector latents clamped to 0',
    steered: true,
    clampsLatents: true,
    trial: (r) => ({ interventions: clamps(r.ablated, r.clampHook) }),
  },
  random: {
    describe:
      'steer, with as many random latents clamped to 0 (matched on label-blind activity and on the residual norm their clamp removes on off-topic contexts, or on activity only, or uniform), or the ablated latents clamped along rotated decoder rows',
    steered: true,
    clampsLatents: true,
    prepare: async (s) => {
      const random = await randomControl({
        match: s.randomMatch,
        runDir: s.latents.runDir,
        source: s.latents.source,
        dSae: s.dSae,
        ablated: s.latents.latents,
        steered: s.features.map((f) => f.latent),
        k: s.randomSets,
        seed: s.seed,
        openStore,
        decoder: { rows: (latents) => s.sae.decoder.gatherRowsF32(latents), dIn: s.sae.dIn },
      });
      const { rows, ...record } = random;
      // recomputed identically on a rerun (seeded), so a resumed run's trials keep their rows
      if (rows) writeRotationFile(join(s.out, ROTATION_FILE), rows, s.sae.dIn);
      writeJsonAtomic(join(s.out, 'random.json'), record);
      const missed = normMisses(random);
      if (missed) s.log(`warning: random control: ${missed}`);
      s.log(
        `random control (${random.match}): ${random.sets.length} set${random.sets.length > 1 ? 's' : ''} of ${s.latents.latents.length}; ${random.exclusion.detector_like.length} detector-like latents excluded (random.json)`,
      );
      return { random, randomSets: random.sets };
    },
    trial: (r, t) => {
      const k = t % r.randomSets.length;
      return { interventions: randomClamps(r, k), suffix: `#${k}`, randomSet: k };
    },
    summary: (r) =>
      r.random
        ? [
            `Random control (\`--random-match ${r.random.match}\`): ${r.random.rule}. Excluded: ${r.random.exclusion.rule} (${r.random.exclusion.detector_like.length} detector-like latents; list in random.json).`,
            ...(r.random.norm
              ? [
                  `Residual norm removed on off-topic contexts (mean over ${r.random.norm.tokens.measured} response tokens): ablated set ${r.random.norm.ablated.toFixed(4)}; random sets ${r.random.norm.sets.map((x) => x.toFixed(4)).join(', ')}.${normMisses(r.random) ? ` **Not matched:** ${normMisses(r.random)}` : ''}`,
                ]
              : []),
            ...(r.random.rotation
              ? [
                  `Rotated rows (rank ${r.random.rotation.rank}): ${r.random.rotation.file}, tensors ${r.random.rotation.tensors.join(', ')} (seed streams ${r.random.rotation.streams.join(', ')}). Activity: ${r.random.activity?.identical}.`,
                ]
              : []),
            ...r.random.sets.map((s, k) => `Random set ${k}: ${s.latents.join(', ')}.`),
          ]
        : [],
    provenance: (r) =>
      r.random
        ? {
            random: {
              match: r.random.match,
              rule: r.random.rule,
              exclusion: r.random.exclusion,
              activity: r.random.activity,
              norm: r.random.norm,
              sets: r.random.sets,
              ...(r.random.rotation ? { rotation: r.random.rotation } : {}),
            },
          }
        : {},
  },
  'no-steer': {
    describe: "no steering: the model's own answers",
    steered: false,
    trial: () => ({ interventions: [] }),
  },
  'meta-prompt': {
    describe:
      'steer, with an instruction to notice going off topic (in the user turn, as in the paper, or a system message)',
    steered: true,
    instruction: (r) => ({ text: r.metaPrompt, placement: r.metaPromptPlacement }),
    trial: () => ({ interventions: [] }),
    summary: (r) => [
      `Meta-prompt (${r.metaPromptPlacement === 'user' ? "appended to the user's turn" : 'system message'}): "${r.metaPrompt}"`,
    ],
  },
} as const satisfies Record<string, ConditionEntry>;

export type Condition = keyof typeof CONDITIONS;
export const CONDITION_NAMES = Object.keys(CONDITIONS) as Condition[];

/** The entry of a condition (typed as the common shape). */
export const condition = (c: Condition): ConditionEntry => CONDITIONS[c];

/** Whether trials of a condition, named as stored, are steered (a name not in the registry counts as steered). */
export function isSteered(name: string): boolean {
  return Object.hasOwn(CONDITIONS, name) ? condition(name as Condition).steered : true;
}

/** Whether any of these conditions clamps latents (a baseline-only run needs no discovery run). */
export const clampsLatents = (conditions: Condition[]): boolean => conditions.some((c) => condition(c).clampsLatents);

/** Differences are taken against this condition when it runs. */
export const BASELINE: Condition = 'baseline';

/** `baseline,ablate,random` → the conditions (unknown or repeated names are refused naming the setting). */
export function parseConditions(text: string): Condition[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!list.length) throw new SettingError(`${ref('conditions')}: name at least one condition`);
  for (const c of list) {
    if (!(c in CONDITIONS))
      throw new SettingError(
        `${ref('conditions')}: unknown condition ${JSON.stringify(c)} (expected some of ${CONDITION_NAMES.join(', ')})`,
      );
  }
  if (new Set(list).size !== list.length)
    throw new SettingError(`${ref('conditions')} ${text}: a condition is listed twice`);
  return list as Condition[];
}

/** What the conditions' trials draw on, each condition's `prepare` run once the features are known. */
export async function prepareConditions(
  conditions: Condition[],
  setup: ConditionSetup & { clampHook: HookPoint },
): Promise<ConditionResources> {
  const resources: ConditionResources = {
    ablated: setup.latents.latents,
    clampHook: setup.clampHook,
    randomSets: [],
    metaPrompt: setup.metaPrompt,
    metaPromptPlacement: setup.metaPromptPlacement,
  };
  for (const c of conditions) Object.assign(resources, await condition(c).prepare?.(setup));
  return resources;
}

/** The instructions the conditions give the model (null for none), each once. */
export function conditionInstructions(
  conditions: Condition[],
  r: Pick<ConditionResources, 'metaPrompt' | 'metaPromptPlacement'>,
): (Instruction | null)[] {
  const seen = new Map<string, Instruction | null>();
  for (const c of conditions) {
    const i = condition(c).instruction?.(r) ?? null;
    seen.set(JSON.stringify(i), i);
  }
  return [...seen.values()];
}
