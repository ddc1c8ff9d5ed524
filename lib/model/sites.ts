// The hook sites of one forward pass: at each named hook point (lib/model/hooks.ts) the pass hands its
// activation here, which applies the hook registered there (an SAE intervention) and keeps a copy when the
// caller asked to read it.
import type * as tf from '@tensorflow/tfjs';
import { checkHook, type HookKind, type HookPoint, type HookShape, hookName, parseHook } from './hooks.ts';
import type { Kernels } from './kernels.ts';

/**
 * Rewrites the activation at a hook point for every token of the step: `x` is [tokens, width], the step's rows
 * packed one after another (row r has `counts[r]` tokens and carries `tags[r]`, e.g. the index of the request
 * it generates). Resolve to a new tensor (one async shape for every hook: some read values back); do not dispose `x`.
 */
export type ActivationHook = (
  x: tf.Tensor2D,
  info: { hook: HookPoint; counts: Int32Array; tags: ArrayLike<number> },
) => Promise<tf.Tensor2D>;

/** A hook name (any spelling parseHook accepts) to its canonical name, checked against the model. */
function canonical(name: string, model: HookShape, what: string): string {
  return hookName(checkHook(parseHook(name, what), model, what));
}

export class HookSites {
  /** The activations asked for, under the names they were asked by (after any hook there). The caller disposes them. */
  readonly acts = new Map<string, tf.Tensor2D>();
  private readonly hooks = new Map<string, ActivationHook>();
  /** Canonical name → the spellings it was asked for by. */
  private readonly read = new Map<string, string[]>();
  /** Every hook point read, canonical, for the pass to know how far it must run. */
  readonly readPoints: HookPoint[];

  constructor(
    model: HookShape,
    hooks: Map<string, ActivationHook> | undefined,
    read: Iterable<string> | undefined,
    private readonly counts: Int32Array,
    private readonly tags: ArrayLike<number>,
  ) {
    for (const [name, fn] of hooks ?? []) {
      const c = canonical(name, model, 'forward hook');
      if (this.hooks.has(c)) throw new Error(`two forward hooks at ${c}: combine them into one`);
      this.hooks.set(c, fn);
    }
    for (const name of read ?? []) {
      const c = canonical(name, model, 'forward read-out');
      this.read.set(c, [...(this.read.get(c) ?? []), name]);
    }
    this.readPoints = [...this.read.keys()].map((n) => parseHook(n, 'forward read-out'));
  }

  /** Whether a hook or a read-out sits at this point (elsewhere the pass may fuse across it). */
  active(kind: HookKind, layer: number): boolean {
    const name = hookName({ kind, layer });
    return this.hooks.has(name) || this.read.has(name);
  }

  /**
   * Applies the site's hook to the device activation `a` (through a tfjs copy, written back over `a`)
   * and keeps a tfjs copy where it is read.
   */
  async at<A>(
    kind: HookKind,
    layer: number,
    a: A,
    k: Pick<Kernels<A>, 'toTensor' | 'fromTensor' | 'free'>,
  ): Promise<A> {
    const hook: HookPoint = { kind, layer };
    const name = hookName(hook);
    const fn = this.hooks.get(name);
    if (fn) {
      const t = k.toTensor(a);
      try {
        const y = await fn(t, { hook, counts: this.counts, tags: this.tags });
        try {
          a = k.fromTensor(y, a);
        } finally {
          y.dispose();
        }
      } finally {
        t.dispose();
      }
    }
    for (const asked of this.read.get(name) ?? []) this.acts.set(asked, k.toTensor(a));
    return a;
  }

  dispose(): void {
    this.acts.forEach((t) => t.dispose());
    this.acts.clear();
  }
}
