// The trial plan: every (feature, prompt, seed) draw under every condition (paired), with its
// interventions and a stable id, so a rerun can tell what is already in the store.
import { Rng } from '../random.ts';
import type { HookPoint } from '../model/hooks.ts';
import { interventionAt } from '../steering/interventions.ts';
import type { Intervention } from '../steering/types.ts';
import { type Condition, type ConditionResources, condition } from './conditions.ts';
import type { Feature } from './features.ts';
import { SEED_RANGE, subSeed } from './seeds.ts';
import type { SteeredRow } from './steered.ts';

/** One steering strength of a feature: `level` is its offset from the threshold in spread units (sweeps), else null. */
export interface Strength {
  boost: number;
  level: number | null;
}

export interface PlanInput extends ConditionResources {
  features: Feature[];
  prompts: string[];
  trialsPerFeature: number;
  seed: number;
  conditions: Condition[];
  strengths: Map<number, Strength[]>;
  steerHook: HookPoint;
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

/** Every draw of every feature under each condition: unsteered conditions once per draw, steered ones at each strength. */
export function planTrials(p: PlanInput): PlannedTrial[] {
  const out: PlannedTrial[] = [];
  const unsteered = p.conditions.filter((c) => !condition(c).steered);
  const steered = p.conditions.filter((c) => condition(c).steered);
  for (const f of p.features) {
    const draws = drawsFor(f.latent, p.prompts.length, p.trialsPerFeature, p.seed);
    draws.forEach((d, t) => {
      const base = {
        feature: f.latent,
        featureLabel: f.label,
        promptIndex: d.promptIndex,
        prompt: p.prompts[d.promptIndex],
        seed: d.seed,
      };
      const key = `${f.latent}:${d.promptIndex}:${d.seed}`;
      const push = (c: Condition, s: Strength | null): void => {
        const x = condition(c).trial(p, t);
        const steer: Intervention[] = s
          ? [interventionAt(p.steerHook, { latent: f.latent, value: s.boost, mode: 'add' })]
          : [];
        const at = s === null || s.level === null ? '' : `:z${s.level}`;
        out.push({
          ...base,
          id: `${key}:${c}${x.suffix ?? ''}${at}`,
          condition: c,
          boost: s?.boost ?? null,
          level: s?.level ?? null,
          randomSet: x.randomSet ?? null,
          instruction: condition(c).instruction?.(p) ?? null,
          interventions: [...steer, ...x.interventions],
        });
      };
      for (const c of unsteered) push(c, null);
      for (const s of p.strengths.get(f.latent)!) for (const c of steered) push(c, s);
    });
  }
  return out;
}

/** Sweep levels: K offsets evenly spaced in [−range, +range] (just 0 for K = 1). */
export function sweepLevels(k: number, range: number): number[] {
  if (k === 1) return [0];
  return Array.from({ length: k }, (_, i) => Number((-range + (2 * range * i) / (k - 1)).toFixed(6)));
}
