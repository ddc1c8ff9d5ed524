// SAE architectures (activation functions), one entry each: the names a SAELens cfg.json gives it, whether
// it loads a per-latent threshold, how the block encoder picks a token's codes, and which path a clamp
// takes to a latent's current code. load.ts, sae.ts, encode.ts and intervene.ts read these entries
// instead of naming architectures. To add one, add an entry here (docs/extending.md); a new selection
// rule (beyond per-value and k-largest) also needs its branch in encode.ts.
import { InputError } from '../errors.ts';

export interface ArchitectureEntry {
  describe: string;
  /** SAELens cfg.json `architecture` values that mean this entry (activation_fn_str picks among `standard`'s). */
  saeLens: { architecture: string; activationFn?: string }[];
  /** Loads `threshold` (or `log_threshold`, exponentiated) [d_sae]; codes at or below it are 0. */
  threshold: boolean;
  /** value: each pre-activation kept where positive (and over its threshold); topk: the k largest positive ones per token. */
  select: 'value' | 'topk';
  /** columns: a latent's current code needs only its encoder column; encode: it needs the full encode (membership depends on all). */
  clamp: 'columns' | 'encode';
}

export const ARCHITECTURES = {
  relu: {
    describe: 'ReLU: f = relu(x·W_enc + b_enc)',
    saeLens: [{ architecture: 'standard', activationFn: 'relu' }],
    threshold: false,
    select: 'value',
    clamp: 'columns',
  },
  jumprelu: {
    describe: 'JumpReLU: f = relu(pre)·[pre > θ] (SAELens jumprelu, Gemma Scope)',
    saeLens: [{ architecture: 'jumprelu' }],
    threshold: true,
    select: 'value',
    clamp: 'columns',
  },
  topk: {
    describe: 'TopK: relu of the k largest pre-activations per token (ties to the lower latent index)',
    saeLens: [{ architecture: 'topk' }, { architecture: 'standard', activationFn: 'topk' }],
    threshold: false,
    select: 'topk',
    clamp: 'encode',
  },
} as const satisfies Record<string, ArchitectureEntry>;

export type ActivationKind = keyof typeof ARCHITECTURES;
export const ACTIVATION_KINDS = Object.keys(ARCHITECTURES) as ActivationKind[];

/** The entry of an activation (typed as the common shape). */
export const architecture = (a: { kind: ActivationKind }): ArchitectureEntry => ARCHITECTURES[a.kind];

/** The activation kind a SAELens cfg.json names (architecture, activation_fn_str), or an InputError listing what is supported. */
export function saeLensKind(architectureName: unknown, activationFn: unknown, cfgPath: string): ActivationKind {
  for (const kind of ACTIVATION_KINDS) {
    for (const m of ARCHITECTURES[kind].saeLens as readonly { architecture: string; activationFn?: string }[]) {
      if (m.architecture === architectureName && (m.activationFn === undefined || m.activationFn === activationFn))
        return kind;
    }
  }
  const names: string[] = [
    ...new Set(ACTIVATION_KINDS.flatMap((k) => ARCHITECTURES[k].saeLens.map((m) => m.architecture))),
  ];
  if (!names.includes(architectureName as string)) {
    throw new InputError(
      `${cfgPath}: field architecture is ${JSON.stringify(architectureName)}, expected ${names
        .map((n) => JSON.stringify(n))
        .join(', ')
        .replace(/, ([^,]*)$/, ' or $1')} (gated and others are not supported)`,
    );
  }
  const fns = ACTIVATION_KINDS.flatMap((k) =>
    (ARCHITECTURES[k].saeLens as readonly { architecture: string; activationFn?: string }[])
      .filter((m) => m.architecture === architectureName && m.activationFn)
      .map((m) => JSON.stringify(m.activationFn)),
  );
  throw new InputError(
    `${cfgPath}: field activation_fn_str is ${JSON.stringify(activationFn)}, expected ${fns.join(' or ')}`,
  );
}
