// Interventions at named layers (docs/design.md "Interventions"), as flags and as residual-stream hooks.
import { InputError } from '../errors.ts';
import type { ResidualHook } from '../model/transformer.ts';
import { makeIntervention, makeRowIntervention, type Sae } from '../sae/index.ts';
import type { Intervention } from './types.ts';

/**
 * Largest |value| an intervention (or a fixed --boost) may take: a million times a decoder row is far past
 * any steering experiment, and past it float32 residuals overflow to Inf/NaN in the next RMSNorm, so the
 * run would score empty responses as if they were answers.
 */
export const MAX_INTERVENTION_VALUE = 1e6;

/** Refuses a non-finite or out-of-range steering or clamp value (an InputError naming `what`). */
export function checkInterventionValue(value: number, what: string): number {
  if (!(Number.isFinite(value) && Math.abs(value) <= MAX_INTERVENTION_VALUE))
    throw new InputError(
      `${what}: expected a number in [-${MAX_INTERVENTION_VALUE}, ${MAX_INTERVENTION_VALUE}], found ${value}`,
    );
  return value;
}

/** `LAYER:LATENT:VALUE` → an intervention of the given mode. */
function parseIntervention(text: string, mode: 'add' | 'clamp'): Intervention {
  const flag = mode === 'add' ? '--steer' : '--clamp';
  const parts = text.split(':');
  const [layer, latent, value] = parts.map(Number);
  if (
    parts.length !== 3 ||
    !Number.isInteger(layer) ||
    layer < 0 ||
    !Number.isInteger(latent) ||
    latent < 0 ||
    !Number.isFinite(value)
  ) {
    throw new InputError(`${flag}: expected LAYER:LATENT:VALUE (e.g. 2:17:8.5), found "${text}"`);
  }
  checkInterventionValue(value, `${flag} ${text}: VALUE`);
  return { layer, latent, value, mode };
}

/** Parses repeatable --steer and --clamp flags (a single string or a list). */
export function parseInterventionFlags(steer: unknown, clamp: unknown): Intervention[] {
  const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  return [
    ...list(steer).map((s) => parseIntervention(s, 'add')),
    ...list(clamp).map((s) => parseIntervention(s, 'clamp')),
  ];
}

export function checkInterventionLayers(interventions: Intervention[], numLayers: number): void {
  for (const iv of interventions) {
    if (iv.layer >= numLayers)
      throw new InputError(`intervention at layer ${iv.layer}: the model has layers 0..${numLayers - 1}`);
  }
}

/** Groups interventions by layer, checking each layer exists. */
function byLayer(interventions: Intervention[], numLayers: number): Map<number, Intervention[]> {
  checkInterventionLayers(interventions, numLayers);
  for (const iv of interventions)
    checkInterventionValue(iv.value, `${iv.mode} of latent ${iv.latent} at layer ${iv.layer}: value`);
  const out = new Map<number, Intervention[]>();
  for (const iv of interventions) out.set(iv.layer, [...(out.get(iv.layer) ?? []), iv]);
  return out;
}

const spec = ({ latent, value, mode }: Intervention) => ({ latent, value, mode });

/**
 * Residual hooks for rows that carry their own interventions (`perRow[i]` for the row tagged i, e.g. the i-th
 * prompt of a generation): one hook per layer that any row intervenes at, applying the SAE interventions with
 * the error term kept.
 */
export function rowInterventionHooks(sae: Sae, perRow: Intervention[][], numLayers: number): Map<number, ResidualHook> {
  const layers = [...byLayer(perRow.flat(), numLayers).keys()];
  const hooks = new Map<number, ResidualHook>();
  for (const layer of layers) {
    const apply = makeRowIntervention(
      sae,
      perRow.map((list) => list.filter((iv) => iv.layer === layer).map(spec)),
    );
    hooks.set(layer, (h, info) => apply(h, { counts: info.counts, lists: info.tags }));
  }
  return hooks;
}

/** The same interventions for every row: one hook per intervened layer. */
export function interventionHooks(
  sae: Sae,
  interventions: Intervention[],
  numLayers: number,
): Map<number, ResidualHook> {
  const hooks = new Map<number, ResidualHook>();
  for (const [layer, list] of byLayer(interventions, numLayers)) {
    const apply = makeIntervention(sae, list.map(spec));
    hooks.set(layer, (h) => apply(h));
  }
  return hooks;
}
