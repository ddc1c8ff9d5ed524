// The trial plan: every (feature, prompt, seed) draw under every condition (paired), with its
// interventions and a stable id, so a rerun can tell what is already in the store.
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import type { Intervention } from '../steering/types.ts';
import type { Feature } from './features.ts';
import type { RandomSet } from './randomSets.ts';
import { SEED_RANGE, subSeed } from './seeds.ts';
import type { SteeredRow } from './steered.ts';

export const CONDITIONS = ['baseline', 'ablate', 'random', 'no-steer', 'meta-prompt'] as const;
export type Condition = (typeof CONDITIONS)[number];

export function parseConditions(text: string): Condition[] {
  const list = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (!list.length) throw new InputError('--conditions: name at least one condition');
  for (const c of list) {
    if (!(CONDITIONS as readonly string[]).includes(c)) throw new InputError(`--conditions: unknown condition ${JSON.stringify(c)} (expected some of ${CONDITIONS.join(', ')})`);
  }
  if (new Set(list).size !== list.length) throw new InputError(`--conditions ${text}: a condition is listed twice`);
  return list as Condition[];
}

/** One steering strength of a feature: `level` is its offset from the threshold in spread units (sweeps), else null. */
export interface Strength {
  boost: number;
  level: number | null;
}

export interface PlanInput {
  features: Feature[];
  prompts: string[];
  trialsPerFeature: number;
  seed: number;
  conditions: Condition[];
  strengths: Map<number, Strength[]>;
  steerLayer: number;
  clampLayer: number;
  ablated: number[];
  randomSets: RandomSet[];
  metaPrompt: string;
}

export interface PlannedTrial extends SteeredRow {
  id: string;
  feature: number;
  promptIndex: number;
  condition: Condition;
  boost: number | null;
  level: number | null;
  randomSet: number | null;
}

export interface Draw {
  promptIndex: number;
  seed: number;
}

/** T (prompt, seed) draws of one feature: prompts without replacement (reshuffled when T > n), seeds uniform in [0, 2^31). */
export function drawsFor(feature: number, nPrompts: number, T: number, seed: number): Draw[] {
  const rng = new Rng(subSeed(seed, 'draws', feature));
  const out: Draw[] = [];
  let order: number[] = [];
  for (let t = 0; t < T; t++) {
    if (!order.length) {
      order = Array.from({ length: nPrompts }, (_, i) => i);
      for (let i = nPrompts - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    out.push({ promptIndex: order.shift()!, seed: rng.int(SEED_RANGE) });
  }
  return out;
}

const clamps = (latents: number[], layer: number): Intervention[] => latents.map((latent) => ({ layer, latent, value: 0, mode: 'clamp' }));

export function planTrials(p: PlanInput): PlannedTrial[] {
  const out: PlannedTrial[] = [];
  for (const f of p.features) {
    const draws = drawsFor(f.latent, p.prompts.length, p.trialsPerFeature, p.seed);
    draws.forEach((d, t) => {
      const base = { feature: f.latent, featureLabel: f.label, promptIndex: d.promptIndex, prompt: p.prompts[d.promptIndex], seed: d.seed };
      const key = `${f.latent}:${d.promptIndex}:${d.seed}`;
      if (p.conditions.includes('no-steer')) {
        out.push({ ...base, id: `${key}:no-steer`, condition: 'no-steer', boost: null, level: null, randomSet: null, interventions: [], system: null });
      }
      for (const s of p.strengths.get(f.latent)!) {
        const steer: Intervention = { layer: p.steerLayer, latent: f.latent, value: s.boost, mode: 'add' };
        const at = s.level === null ? '' : `:z${s.level}`;
        const common = { ...base, boost: s.boost, level: s.level };
        for (const c of p.conditions) {
          if (c === 'no-steer') continue;
          if (c === 'random') {
            const k = t % p.randomSets.length;
            out.push({ ...common, id: `${key}:random#${k}${at}`, condition: c, randomSet: k, system: null, interventions: [steer, ...clamps(p.randomSets[k].latents, p.clampLayer)] });
            continue;
          }
          out.push({
            ...common, id: `${key}:${c}${at}`, condition: c, randomSet: null,
            system: c === 'meta-prompt' ? p.metaPrompt : null,
            interventions: c === 'ablate' ? [steer, ...clamps(p.ablated, p.clampLayer)] : [steer],
          });
        }
      }
    });
  }
  return out;
}

/** Sweep levels: K offsets evenly spaced in [−range, +range] (just 0 for K = 1). */
export function sweepLevels(k: number, range: number): number[] {
  if (k === 1) return [0];
  return Array.from({ length: k }, (_, i) => Number((-range + (2 * range * i) / (k - 1)).toFixed(6)));
}
