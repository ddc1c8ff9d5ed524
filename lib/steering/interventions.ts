// Interventions at named hook points (docs/design.md "Interventions"), as flags and as forward-pass hooks.
import { InputError } from '../errors.ts';
import {
  checkHook,
  type HookPoint,
  type HookShape,
  hookName,
  hookWidth,
  parseHook,
  residPost,
  tryParseHook,
} from '../model/hooks.ts';
import type { ActivationHook } from '../model/sites.ts';
import { makeIntervention, makeRowIntervention, type InterventionSpec, type Sae } from '../sae/index.ts';
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

/** The hook point an SAE says it was trained at (hook_name, or its Gemma Scope/Goodfire name), when it names one we run. */
export function saeHook(sae: Sae): HookPoint | null {
  return sae.info.hookName === undefined ? null : tryParseHook(sae.info.hookName);
}

/**
 * Notes for interventions at resid_post.L (what a bare layer number means) on an SAE trained at another hook
 * point of the same block — most likely meant to act where the SAE reads.
 */
export function offHookNotes(interventions: Intervention[], sae: Sae): string[] {
  const own = saeHook(sae);
  if (!own || own.kind === 'resid_post') return [];
  const ownName = hookName(own);
  return [...new Set(interventions.map((iv) => interventionHook(iv)))]
    .filter((h) => h.kind === 'resid_post' && h.layer === own.layer)
    .map(
      (h) =>
        `note: an intervention acts at ${hookName(h)} (a bare layer number ${h.layer} means resid_post.${h.layer}), but the SAE reads ${ownName}; write ${ownName}:LATENT:VALUE to act where it reads`,
    );
}

/** The record of one intervention at a hook point. */
export function interventionAt(hook: HookPoint, spec: InterventionSpec): Intervention {
  return { hook: hookName(hook), layer: hook.layer, ...spec };
}

/** An intervention as a trial store keeps it: its own decoder row (if any) by key only, the values being in the file the key names. */
export function recordedIntervention(iv: Intervention): Intervention {
  return iv.decoderRow ? { ...iv, decoderRow: { key: iv.decoderRow.key } } : iv;
}

/** Where an intervention acts: its `hook`, or resid_post.layer for records written before hooks were named. */
export function interventionHook(iv: Pick<Intervention, 'layer'> & { hook?: string }): HookPoint {
  return iv.hook === undefined ? residPost(iv.layer) : parseHook(iv.hook, `intervention ${JSON.stringify(iv)}`);
}

/** `HOOK:LATENT:VALUE` (HOOK a hook name, or a layer number = resid_post.L) → an intervention of the given mode. */
function parseIntervention(text: string, mode: 'add' | 'clamp'): Intervention {
  const flag = mode === 'add' ? '--steer' : '--clamp';
  const parts = text.split(':');
  const hook = parts.length === 3 ? tryParseHook(parts[0]) : null;
  const [latent, value] = parts.slice(1).map(Number);
  if (!hook || !Number.isInteger(latent) || latent < 0 || !Number.isFinite(value)) {
    throw new InputError(
      `${flag}: expected HOOK:LATENT:VALUE with HOOK a layer number (resid_post.L) or a hook name (e.g. 2:17:8.5 or blocks.3.hook_resid_pre:17:8.5), found "${text}"`,
    );
  }
  checkInterventionValue(value, `${flag} ${text}: VALUE`);
  return interventionAt(hook, { latent, value, mode });
}

/** Parses repeatable --steer and --clamp flags (a single string or a list). */
export function parseInterventionFlags(steer: unknown, clamp: unknown): Intervention[] {
  const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);
  return [
    ...list(steer).map((s) => parseIntervention(s, 'add')),
    ...list(clamp).map((s) => parseIntervention(s, 'clamp')),
  ];
}

/**
 * Checks each intervention's value is in range, its hook point exists in the model and, given the SAE, that
 * the SAE reads activations of that width there (an attn.hook_z SAE cannot act on the residual stream).
 */
export function checkInterventions(interventions: Intervention[], model: HookShape, sae?: Sae): void {
  for (const iv of interventions) {
    const what = `intervention at ${iv.hook}`;
    checkInterventionValue(iv.value, `${iv.mode} of latent ${iv.latent} at ${iv.hook}: value`);
    const hook = checkHook(interventionHook(iv), model, what);
    const width = hookWidth(hook, model);
    if (sae && sae.dIn !== width)
      throw new InputError(
        `${what}: the SAE reads ${sae.dIn}-wide activations but ${hookName(hook)} is ${width} wide (${sae.info.path})`,
      );
  }
}

/** Groups interventions by canonical hook name, checking each hook point (and the SAE's width there). */
function byHook(interventions: Intervention[], model: HookShape, sae: Sae): Map<string, Intervention[]> {
  checkInterventions(interventions, model, sae);
  const out = new Map<string, Intervention[]>();
  for (const iv of interventions) {
    const name = hookName(interventionHook(iv));
    out.set(name, [...(out.get(name) ?? []), iv]);
  }
  return out;
}

const spec = ({ hook: _hook, layer: _layer, ...s }: Intervention): InterventionSpec => s;

/**
 * Forward hooks for rows that carry their own interventions (`perRow[i]` for the row tagged i, e.g. the i-th
 * prompt of a generation): one hook per hook point that any row intervenes at, applying the SAE interventions
 * with the error term kept.
 */
export function rowInterventionHooks(
  sae: Sae,
  perRow: Intervention[][],
  model: HookShape,
): Map<string, ActivationHook> {
  const hooks = new Map<string, ActivationHook>();
  for (const name of byHook(perRow.flat(), model, sae).keys()) {
    const apply = makeRowIntervention(
      sae,
      perRow.map((list) => list.filter((iv) => hookName(interventionHook(iv)) === name).map(spec)),
    );
    hooks.set(name, (x, info) => apply(x, { counts: info.counts, lists: info.tags }));
  }
  return hooks;
}

/** The same interventions for every row: one hook per hook point intervened at. */
export function interventionHooks(
  sae: Sae,
  interventions: Intervention[],
  model: HookShape,
): Map<string, ActivationHook> {
  const hooks = new Map<string, ActivationHook>();
  for (const [name, list] of byHook(interventions, model, sae)) {
    const apply = makeIntervention(sae, list.map(spec));
    hooks.set(name, (x) => apply(x));
  }
  return hooks;
}
