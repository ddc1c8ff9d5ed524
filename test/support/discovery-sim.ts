// Simulated discovery stores (pooled values, as find-otd-latents' design makes them): n prompts, each with its
// on-topic sample and K off-topic samples over disjoint derangements, and latents whose firing depends on the
// prompt and on the response but — for null latents — not on whether they match. Planted detectors fire
// more (and higher) when prompt and response do not match. Used by the null-calibration tests and bench/stats.
import { derangements } from '../../lib/discovery/pairs.ts';
import { Rng } from '../../lib/random.ts';
import type { PooledCodes } from '../../lib/stats/sparse.ts';

export interface SimOptions {
  prompts: number;
  k: number;
  nulls: number;
  detectors: number;
  seed: number;
  /** SD of the per-latent prompt and response random effects on the logit of firing and the log of the value (0 = iid). */
  effects: number;
  /** Range of the null latents' base firing rates (log-uniform). */
  rates?: [number, number];
}

export interface SimStore {
  codes: PooledCodes;
  /** 0 = off-topic, 1 = on-topic. */
  groups: Uint8Array;
  promptIds: string[];
  responseIds: string[];
  /** Latent indices of the planted detectors (the others are null). */
  detectors: Set<number>;
}

const logit = (p: number): number => Math.log(p / (1 - p));
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** A seeded simulated store; latents are shuffled so detectors sit at random indices. */
export function simulateDiscovery(o: SimOptions): SimStore {
  const rng = new Rng(o.seed, 7);
  const u = (): number => rng.float();
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const [lo, hi] = o.rates ?? [0.005, 0.6];
  const n = o.prompts;
  const perms = derangements(n, o.k, o.seed);
  // samples: per prompt its on-topic one, then its K off-topic ones
  const pairs: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    pairs.push([i, i]);
    for (let k = 0; k < o.k; k++) pairs.push([i, perms[k][i]]);
  }
  const d = o.nulls + o.detectors;
  const order = Array.from({ length: d }, (_, i) => i);
  for (let i = d - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const detectors = new Set(order.slice(o.nulls));
  const rows: [number, number][][] = pairs.map(() => []);
  for (let l = 0; l < d; l++) {
    const detector = detectors.has(l);
    const rate = detector ? 0.05 + 0.3 * u() : Math.exp(Math.log(lo) + (Math.log(hi) - Math.log(lo)) * u());
    // a detector adds `lift` to the logit of firing and `shift` to the log value when the response is another prompt's
    const lift = detector ? 1 + 2.5 * u() : 0;
    const shift = detector ? 0.3 * u() : 0;
    const pa = Array.from({ length: n }, () => o.effects * normal());
    const ra = Array.from({ length: n }, () => o.effects * normal());
    const pv = Array.from({ length: n }, () => 0.5 * o.effects * normal());
    const rv = Array.from({ length: n }, () => 0.5 * o.effects * normal());
    pairs.forEach(([i, j], s) => {
      const off = i !== j;
      const p = sigmoid(logit(rate) + pa[i] + ra[j] + (off ? lift : 0));
      if (u() < p) rows[s].push([l, Math.exp(0.3 * normal() + pv[i] + rv[j] + (off ? shift : 0))]);
    });
  }
  const indptr = new Int32Array(pairs.length + 1);
  const latents: number[] = [];
  const values: number[] = [];
  rows.forEach((row, s) => {
    row.sort((x, y) => x[0] - y[0]);
    for (const [l, v] of row) {
      latents.push(l);
      values.push(v);
    }
    indptr[s + 1] = latents.length;
  });
  return {
    codes: {
      nSamples: pairs.length,
      dSae: d,
      indptr,
      latents: Int32Array.from(latents),
      values: Float64Array.from(values),
    },
    groups: Uint8Array.from(pairs, ([i, j]) => (i === j ? 1 : 0)),
    promptIds: pairs.map(([i]) => `p${i}`),
    responseIds: pairs.map(([, j]) => `p${j}`),
    detectors,
  };
}
