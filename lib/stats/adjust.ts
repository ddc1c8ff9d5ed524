// Multiple-comparison adjustments across latents.

/** Indices by ascending p (ties by index): pass it to several adjustments of the same p to sort once. */
export function orderOf(p: ArrayLike<number>): Int32Array {
  return Int32Array.from({ length: p.length }, (_, i) => i).sort((i, j) => p[i] - p[j] || i - j);
}

/** Benjamini–Hochberg q-values, as scipy.stats.false_discovery_control(p, method='bh'). */
export function benjaminiHochberg(p: ArrayLike<number>, order = orderOf(p)): Float64Array {
  const m = p.length;
  const q = new Float64Array(m);
  let running = Infinity;
  for (let r = m - 1; r >= 0; r--) {
    running = Math.min(running, (p[order[r]] * m) / (r + 1));
    q[order[r]] = Math.min(1, running);
  }
  return q;
}

/**
 * Benjamini–Yekutieli q-values (FDR control under any dependence between the tests): the BH q-values
 * times Σ_{i ≤ m} 1/i, capped at 1; scipy.stats.false_discovery_control(p, method='by').
 */
export function benjaminiYekutieli(p: ArrayLike<number>, bh = benjaminiHochberg(p)): Float64Array {
  let c = 0;
  for (let i = 1; i <= p.length; i++) c += 1 / i;
  return bh.map((q) => Math.min(1, q * c));
}

/** Holm step-down adjusted p-values: max over k ≤ r of (m − k)·p_(k), capped at 1. */
export function holm(p: ArrayLike<number>, order = orderOf(p)): Float64Array {
  const m = p.length;
  const out = new Float64Array(m);
  let running = 0;
  for (let r = 0; r < m; r++) {
    running = Math.max(running, (m - r) * p[order[r]]);
    out[order[r]] = Math.min(1, running);
  }
  return out;
}
