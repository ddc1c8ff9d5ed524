// On-topic and off-topic prompt/response pairs (docs/design.md "Off-topic pairs").
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import type { CaptureSample } from '../capture/samples.ts';
import { splitPrompts } from './holdout.ts';

/** A uniformly random order of `items` (Fisher–Yates). */
function shuffled(items: readonly number[], rng: Rng): number[] {
  const p = [...items];
  for (let i = p.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/**
 * K disjoint derangements of 0..n−1: cyclic shifts of one seeded order σ, π_k(i) = σ⁻¹((σ(i) + k) mod n)
 * for k = 1..K. No π_k has a fixed point and no two give a prompt the same response, so each prompt's K
 * off-topic samples carry K distinct responses (and each response serves K distinct prompts). Needs
 * K ≤ n − 1. With `parts` (lists of prompt indices covering 0..n−1, e.g. the selection and the held-out
 * prompts), each part is deranged within itself, so no sample crosses parts; part j's order draws from
 * stream j + 1 of the seed (stream 0 is the held-out split's).
 */
export function derangements(n: number, k: number, seed: number, parts?: readonly (readonly number[])[]): number[][] {
  const groups = parts ?? [Array.from({ length: n }, (_, i) => i)];
  const perms = Array.from({ length: k }, () => new Array<number>(n).fill(-1));
  groups.forEach((part, j) => {
    if (part.length < k + 1) {
      const what = parts ? `part ${j} of the prompts (${part.length} prompts)` : `${n} prompts`;
      throw new InputError(
        `${k} disjoint derangements need at least ${k + 1} prompts; ${what} ${parts ? 'has' : 'give'} fewer (use fewer --derangements)`,
      );
    }
    const order = shuffled(part, new Rng(seed, j + 1)); // order[σ(i)] = i
    for (let shift = 1; shift <= k; shift++)
      order.forEach((i, at) => (perms[shift - 1][i] = order[(at + shift) % order.length]));
  });
  if (perms.some((p) => p.some((x) => x < 0)))
    throw new RangeError('derangements: the parts do not cover every prompt');
  return perms;
}

/** Prompt i's id in discovery stores. */
export const promptId = (i: number): string => `p${i}`;

/**
 * find-otd-latents' derangements of n prompts: over all of them, or with a held-out split (the same one
 * the analysis makes, from the ids p0..p<n−1>) within the selection and the held-out prompts separately.
 */
export function discoveryDerangements(
  n: number,
  k: number,
  seed: number,
  holdout: { fraction: number; seed: number } | null,
): number[][] {
  if (!holdout) return derangements(n, k, seed);
  const split = splitPrompts(
    Array.from({ length: n }, (_, i) => promptId(i)),
    holdout.fraction,
    holdout.seed,
  );
  const index = (ids: string[]): number[] => ids.map((id) => Number(id.slice(1)));
  return derangements(n, k, seed, [index(split.train), index(split.heldOut)]);
}

/**
 * The capture samples: `on:i` = (p_i, r_i) for every prompt, and `off:k:i` = (p_i, r_π_k(i)) for every
 * derangement k. Prompt and response ids are the prompts' indices `p<i>`.
 */
export function otdSamples(prompts: string[], responses: string[], perms: number[][]): CaptureSample[] {
  const pid = promptId;
  const pair = (id: string, condition: string, i: number, j: number): CaptureSample => ({
    id,
    condition,
    prompt_id: pid(i),
    response_id: pid(j),
    spans: {},
    messages: [
      { role: 'user', content: prompts[i] },
      { role: 'assistant', content: responses[j] },
    ],
  });
  return [
    ...prompts.map((_, i) => pair(`on:${i}`, 'on_topic', i, i)),
    ...perms.flatMap((perm, k) => perm.map((j, i) => pair(`off:${k}:${i}`, 'off_topic', i, j))),
  ];
}
