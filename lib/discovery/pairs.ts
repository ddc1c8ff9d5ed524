// On-topic and off-topic prompt/response pairs (docs/design.md "Off-topic pairs").
import { InputError } from '../errors.ts';
import { Rng } from '../random.ts';
import type { CaptureSample } from '../capture/samples.ts';

/**
 * A uniformly random derangement of 0..n−1 (a permutation with no fixed point), by rejection sampling
 * of Fisher–Yates shuffles; about e ≈ 2.7 shuffles are needed on average.
 */
export function derangement(n: number, rng: Rng): number[] {
  if (n < 2) throw new InputError(`a derangement needs at least 2 prompts, found ${n}`);
  for (;;) {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [p[i], p[j]] = [p[j], p[i]];
    }
    if (p.every((v, i) => v !== i)) return p;
  }
}

/** K seeded derangements; derangement k draws from its own stream of the seed. */
export function derangements(n: number, k: number, seed: number): number[][] {
  return Array.from({ length: k }, (_, i) => derangement(n, new Rng(seed, i + 1)));
}

/**
 * The capture samples: `on:i` = (p_i, r_i) for every prompt, and `off:k:i` = (p_i, r_π_k(i)) for every
 * derangement k. Prompt and response ids are the prompts' indices `p<i>`.
 */
export function otdSamples(prompts: string[], responses: string[], perms: number[][]): CaptureSample[] {
  const pid = (i: number) => `p${i}`;
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
