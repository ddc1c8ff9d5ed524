import * as tf from '@tensorflow/tfjs';

/**
 * Keys and values of every layer for a batch of sequences, plus which cached slots hold real tokens (left
 * padding leaves holes) and each row's next position. Keys are stored transposed ([head_dim, S] per
 * sequence × kv-head group) so attention scores are plain 2-D matmuls, the fast path of tfjs-wasm.
 */
export class KVCache {
  /** keysT[layer][group]: [head_dim, S]; values[layer][group]: [S, head_dim]; group = row·KVH + kvHead. */
  keysT: tf.Tensor2D[][];
  values: tf.Tensor2D[][];
  /** valid[row][slot] = 1 where the slot holds a real token. */
  valid: Uint8Array[];
  /** The position id the next real token of each row gets. */
  nextPosition: number[];

  constructor(readonly numLayers: number, readonly batch: number) {
    this.keysT = Array.from({ length: numLayers }, () => []);
    this.values = Array.from({ length: numLayers }, () => []);
    this.valid = Array.from({ length: batch }, () => new Uint8Array(0));
    this.nextPosition = new Array(batch).fill(0);
  }

  get length(): number {
    return this.valid[0]?.length ?? 0;
  }

  /** Appends one layer's new keys/values (per group), disposing the tensors they replace. */
  append(layer: number, keysT: tf.Tensor2D[], values: tf.Tensor2D[]): void {
    const oldK = this.keysT[layer], oldV = this.values[layer];
    this.keysT[layer] = oldK.length ? keysT.map((k, g) => tf.keep(tf.concat([oldK[g], k], 1))) : keysT.map((k) => tf.keep(k));
    this.values[layer] = oldV.length ? values.map((v, g) => tf.keep(tf.concat([oldV[g], v], 0))) : values.map((v) => tf.keep(v));
    if (oldK.length) {
      oldK.forEach((t) => t.dispose());
      oldV.forEach((t) => t.dispose());
      keysT.forEach((t) => t.dispose());
      values.forEach((t) => t.dispose());
    }
  }

  /** Records the validity of T new slots per row (called once per forward step, before the layers run). */
  extend(newValid: Uint8Array[]): void {
    this.valid = this.valid.map((old, b) => {
      const out = new Uint8Array(old.length + newValid[b].length);
      out.set(old);
      out.set(newValid[b], old.length);
      return out;
    });
  }

  dispose(): void {
    for (const layer of [...this.keysT, ...this.values]) layer.forEach((t) => t.dispose());
    this.keysT = this.keysT.map(() => []);
    this.values = this.values.map(() => []);
  }
}
