/**
 * Keeps the k largest (value, latent) pairs per token while latent blocks stream past, in a min-heap per
 * token, so TopK never needs all d_sae pre-activations at once. Equal values: the lower latent wins.
 */
export class TopKAccumulator {
  private readonly vals: Float32Array;
  private readonly idx: Int32Array;
  private readonly size: Int32Array;

  constructor(
    nTokens: number,
    private readonly k: number,
  ) {
    this.vals = new Float32Array(nTokens * k);
    this.idx = new Int32Array(nTokens * k);
    this.size = new Int32Array(nTokens);
  }

  /** a ranks below b: smaller value, or equal value and higher latent. */
  private below(a: number, b: number): boolean {
    return this.vals[a] < this.vals[b] || (this.vals[a] === this.vals[b] && this.idx[a] > this.idx[b]);
  }

  offer(token: number, latent: number, value: number): void {
    if (Number.isNaN(value)) return;
    const base = token * this.k;
    const n = this.size[token];
    if (n < this.k) {
      this.vals[base + n] = value;
      this.idx[base + n] = latent;
      this.size[token] = n + 1;
      this.siftUp(base, n);
      return;
    }
    const root = this.vals[base];
    if (value < root || (value === root && latent > this.idx[base])) return;
    this.vals[base] = value;
    this.idx[base] = latent;
    this.siftDown(base, n);
  }

  private swap(a: number, b: number): void {
    const v = this.vals[a];
    this.vals[a] = this.vals[b];
    this.vals[b] = v;
    const i = this.idx[a];
    this.idx[a] = this.idx[b];
    this.idx[b] = i;
  }

  private siftUp(base: number, pos: number): void {
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!this.below(base + pos, base + parent)) return;
      this.swap(base + pos, base + parent);
      pos = parent;
    }
  }

  private siftDown(base: number, n: number): void {
    let pos = 0;
    for (;;) {
      const l = 2 * pos + 1,
        r = l + 1;
      let m = pos;
      if (l < n && this.below(base + l, base + m)) m = l;
      if (r < n && this.below(base + r, base + m)) m = r;
      if (m === pos) return;
      this.swap(base + pos, base + m);
      pos = m;
    }
  }

  /** Appends token's kept entries with relu(value) > 0 to `out`, latents ascending. */
  positiveSorted(token: number, out: { latents: number[]; values: number[] }): void {
    const base = token * this.k;
    const order = Array.from({ length: this.size[token] }, (_, i) => base + i)
      .filter((p) => this.vals[p] > 0)
      .sort((a, b) => this.idx[a] - this.idx[b]);
    for (const p of order) {
      out.latents.push(this.idx[p]);
      out.values.push(this.vals[p]);
    }
  }
}
