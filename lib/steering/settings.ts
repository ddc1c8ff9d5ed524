// The intervention settings, declared once (lib/settings/table.ts) and shared by the commands that steer
// or clamp on every position: capture, forward and generate. Each flag is repeatable.
import { custom } from '../settings/kinds.ts';
import { MAX_INTERVENTION_VALUE, parseInterventionFlags } from './interventions.ts';
import type { Intervention } from './types.ts';

/** An intervention record of this mode: a hook name, a latent index and a value in range. */
const isIntervention = (x: unknown, mode: string): boolean => {
  const iv = x as Partial<Intervention> | null;
  return (
    typeof iv === 'object' &&
    iv !== null &&
    iv.mode === mode &&
    typeof iv.hook === 'string' &&
    Number.isSafeInteger(iv.latent) &&
    (iv.latent as number) >= 0 &&
    Number.isFinite(iv.value) &&
    Math.abs(iv.value as number) <= MAX_INTERVENTION_VALUE
  );
};

function interventions(mode: 'add' | 'clamp', doc: string) {
  return custom<Intervention[], string[]>({
    doc,
    default: [],
    key: null,
    cli: { type: 'string', array: true },
    expected: `a list of {hook, layer, latent, value, mode: '${mode}'} (HOOK:LATENT:VALUE on the command line)`,
    valid: (v) => Array.isArray(v) && v.every((x) => isIntervention(x, mode)),
    parse: (texts) =>
      mode === 'add' ? parseInterventionFlags(texts, undefined) : parseInterventionFlags(undefined, texts),
    show: (v) => (v.length ? v.map((iv) => `${iv.hook}:${iv.latent}:${iv.value}`).join(' ') : 'none'),
  });
}

export const INTERVENTION_SETTINGS = {
  steer: interventions(
    'add',
    'HOOK:LATENT:VALUE, add VALUE·W_dec[LATENT] at HOOK on every position (repeatable); HOOK is a hook name (blocks.3.hook_resid_pre) or a layer number L (= resid_post.L)',
  ),
  clamp: interventions(
    'clamp',
    'HOOK:LATENT:VALUE, clamp the latent to VALUE at HOOK (repeatable; 0 = ablate; HOOK as for ‹steer›)',
  ),
};
