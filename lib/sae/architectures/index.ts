// The SAE architectures, one file each (./relu.ts, …): the registry below is the only list of them. To add
// one, write its entry (types.ts says what an entry holds; gated.ts is a worked example, docs/extending.md)
// and add one line here.
import { InputError } from '../../errors.ts';
import { gated } from './gated.ts';
import { jumprelu } from './jumprelu.ts';
import { relu } from './relu.ts';
import { topk } from './topk.ts';
import type { ArchitectureEntry } from './types.ts';

export const ARCHITECTURES = { relu, jumprelu, topk, gated } satisfies Record<string, ArchitectureEntry>;

export type { ArchitectureEntry, LatentVectors, VectorSpec } from './types.ts';
export type ActivationKind = keyof typeof ARCHITECTURES;
export const ACTIVATION_KINDS = Object.keys(ARCHITECTURES) as ActivationKind[];

/** An SAE's activation: its architecture, with k for the k-largest rule. */
export type Activation = { kind: Exclude<ActivationKind, 'topk'> } | { kind: 'topk'; k: number };

/** The entry of an activation. */
export const architecture = (a: { kind: ActivationKind }): ArchitectureEntry => ARCHITECTURES[a.kind];

/** The activation kind a SAELens cfg.json names (architecture, activation_fn_str), or an InputError listing what is supported. */
export function saeLensKind(architectureName: unknown, activationFn: unknown, cfgPath: string): ActivationKind {
  for (const kind of ACTIVATION_KINDS) {
    for (const m of architecture({ kind }).saeLens) {
      if (m.architecture === architectureName && (m.activationFn === undefined || m.activationFn === activationFn))
        return kind;
    }
  }
  const names: string[] = [
    ...new Set(ACTIVATION_KINDS.flatMap((k) => architecture({ kind: k }).saeLens.map((m) => m.architecture))),
  ];
  if (!names.includes(architectureName as string)) {
    throw new InputError(
      `${cfgPath}: field architecture is ${JSON.stringify(architectureName)}, expected ${names
        .map((n) => JSON.stringify(n))
        .join(', ')
        .replace(/, ([^,]*)$/, ' or $1')} (others are not supported)`,
    );
  }
  const fns = ACTIVATION_KINDS.flatMap((k) =>
    architecture({ kind: k })
      .saeLens.filter((m) => m.architecture === architectureName && m.activationFn)
      .map((m) => JSON.stringify(m.activationFn)),
  );
  throw new InputError(
    `${cfgPath}: field activation_fn_str is ${JSON.stringify(activationFn)}, expected ${fns.join(' or ')}`,
  );
}
