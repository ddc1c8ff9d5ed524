// Interventions at named layers (DESIGN.md "Interventions"), as flags and as residual-stream hooks.
import { InputError } from '../errors.ts';
import type { ResidualHook } from '../model/transformer.ts';
import { makeIntervention, type Sae } from '../sae/index.ts';
import type { Intervention } from '../trials/types.ts';

/** `LAYER:LATENT:VALUE` → an intervention of the given mode. */
export function parseIntervention(text: string, mode: 'add' | 'clamp'): Intervention {
  const flag = mode === 'add' ? '--steer' : '--clamp';
  const parts = text.split(':');
  const [layer, latent, value] = parts.map(Number);
  if (parts.length !== 3 || !Number.isInteger(layer) || layer < 0 || !Number.isInteger(latent) || latent < 0 || !Number.isFinite(value)) {
    throw new InputError(`${flag}: expected LAYER:LATENT:VALUE (e.g. 2:17:8.5), found "${text}"`);
  }
  return { layer, latent, value, mode };
}

/** Parses repeatable --steer and --clamp flags (a single string or a list). */
export function parseInterventionFlags(steer: unknown, clamp: unknown): Intervention[] {
  const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  return [...list(steer).map((s) => parseIntervention(s, 'add')), ...list(clamp).map((s) => parseIntervention(s, 'clamp'))];
}

/** One residual hook per intervened layer, applying that layer's interventions with the SAE (error term kept). */
export function interventionHooks(sae: Sae, interventions: Intervention[], numLayers: number): Map<number, ResidualHook> {
  const byLayer = new Map<number, Intervention[]>();
  for (const iv of interventions) {
    if (iv.layer >= numLayers) throw new InputError(`intervention at layer ${iv.layer}: the model has layers 0..${numLayers - 1}`);
    byLayer.set(iv.layer, [...(byLayer.get(iv.layer) ?? []), iv]);
  }
  const hooks = new Map<number, ResidualHook>();
  for (const [layer, list] of byLayer) {
    const apply = makeIntervention(sae, list.map(({ latent, value, mode }) => ({ latent, value, mode })));
    hooks.set(layer, (h) => apply(h));
  }
  return hooks;
}
