// Choosing the next token from a row's logits, with transformers' `generate` semantics: repetition penalty
// (on every token of the sequence so far), then temperature, top-k (ties with the k-th kept), top-p, then one
// draw with a uniform u from the row's own seeded stream. Defined by the tokens' order (score descending,
// index ascending) and their masses w = exp((score − max) / T): top-p keeps token i while the mass ranked
// above it is below p·Z; the draw picks the first token whose cumulative mass exceeds u·Z_kept. No
// full-vocabulary sort: only the tokens the draw can reach are ranked (the WebGPU sampler in webgpu/ follows
// the same definition on the device).

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
 * divided by the penalty when positive, multiplied when negative.
 */
export function penalized(x: number, penalty: number): number {
  return x < 0 ? Math.fround(x * penalty) : Math.fround(x / penalty);
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** The n-th largest value of `x` (1-based), by selection on a copy (average O(length)). */
export function nthLargest(x: Float32Array, n: number): number {
  const a = Float32Array.from(x);
  let lo = 0;
  let hi = a.length - 1;
  const k = n - 1; // index of the answer in descending order
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}

/** Indices of the scores ≥ threshold, ranked: score descending, index ascending. */
function ranked(scores: Float32Array, threshold: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] >= threshold) out.push(i);
  return out.sort((a, b) => scores[b] - scores[a] || a - b);
}

/**
 * Picks the next token from one row's logits: `seen` are the sequence's tokens so far (for the penalty), `u` a
 * uniform in [0, 1) from the row's stream (unused when greedy).
 */
export function nextToken(logits: Float32Array, seen: Iterable<number>, opts: SamplingOptions, u: number): number {
  const scores = Float32Array.from(logits);
  if (opts.repetitionPenalty !== 1)
    for (const id of new Set(seen)) scores[id] = penalized(scores[id], opts.repetitionPenalty);
  if (opts.temperature === 0) return argmax(scores);
  const V = scores.length;
  const top = scores[argmax(scores)];
  const mass = (s: number) => Math.exp((s - top) / opts.temperature);
  // The eligible set: the top-k (all ties of the k-th kept), else every token.
  const kth = opts.topK > 0 && opts.topK < V ? nthLargest(scores, opts.topK) : -Infinity;
  let total = 0;
  for (let i = 0; i < V; i++) if (scores[i] >= kth) total += mass(scores[i]);
  // Rank only as many of the best tokens as the top-p cut and the draw can reach: the fewest whose mass
  // passes what is needed (p·Z for top-p, u·Z otherwise), growing the ranked prefix until it does.
  const need = (opts.topP < 1 ? opts.topP : u) * total;
  let order: number[] = [];
  for (let n = 64; ; n *= 4) {
    const threshold = n >= V ? kth : Math.max(kth, nthLargest(scores, n));
    order = ranked(scores, threshold);
    let acc = 0;
    for (const i of order) acc += mass(scores[i]);
    if (acc > need || threshold === kth) break;
  }
  // top-p: keep while the mass ranked above is below p·Z (at least one token).
  let keep = order.length;
  let kept = 0;
  if (opts.topP < 1) {
    keep = 0;
    while (keep < order.length && (keep === 0 || kept < opts.topP * total)) kept += mass(scores[order[keep++]]);
  } else kept = total;
  let target = u * kept;
  for (let r = 0; r < keep; r++) {
    target -= mass(scores[order[r]]);
    if (target < 0) return order[r];
  }
  return order[keep - 1];
}
