import type { Rng } from '../random.ts';

/** Decoding settings, with transformers' `generate` semantics. temperature 0 means greedy. */
export interface SamplingOptions {
  temperature: number;
  topK: number; // 0 = off
  topP: number; // 1 = off
  repetitionPenalty: number; // 1 = off
}

export const GREEDY: SamplingOptions = { temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1 };

/**
 * Repetition penalty (CTRL / transformers): every token already in the sequence (prompt included) has its logit
 * divided by the penalty when positive, multiplied when negative. Modifies `logits` in place.
 */
function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    const x = logits[id];
    logits[id] = x < 0 ? x * penalty : x / penalty;
  }
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/**
 * Picks the next token: repetition penalty, then (when sampling) temperature, top-k, top-p — the order
 * transformers applies its processors and warpers — then one draw from the renormalised distribution.
 */
export function nextToken(
  logits: Float32Array,
  seen: Iterable<number>,
  opts: SamplingOptions,
  rng: Rng | null,
): number {
  const scores = Float32Array.from(logits);
  applyRepetitionPenalty(scores, seen, opts.repetitionPenalty);
  if (opts.temperature === 0) return argmax(scores);
  if (!rng) throw new Error('sampling with temperature > 0 needs a seeded Rng');

  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  let keep = order.length;
  if (opts.topK > 0) {
    // transformers keeps every token whose score ties the k-th best
    const kth = scores[order[Math.min(opts.topK, order.length) - 1]];
    keep = order.findIndex((i) => scores[i] < kth);
    if (keep < 0) keep = order.length;
  }
  const probs = new Float64Array(keep);
  let total = 0;
  for (let r = 0; r < keep; r++) total += probs[r] = Math.exp((scores[order[r]] - scores[order[0]]) / opts.temperature);
  if (opts.topP < 1) {
    // Drop the least likely tokens whose cumulative mass is at most 1 − top_p; always keep the best one.
    let tail = 0;
    let cut = keep;
    while (cut > 1 && (tail + probs[cut - 1]) / total <= 1 - opts.topP) tail += probs[--cut];
    keep = cut;
    total -= tail;
  }
  let u = rng.float() * total;
  for (let r = 0; r < keep; r++) {
    u -= probs[r];
    if (u < 0) return order[r];
  }
  return order[keep - 1];
}
