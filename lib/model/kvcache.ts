import * as tf from '@tensorflow/tfjs';

/**
 * Keys and values of every layer for a batch of sequences, plus which cached slots hold real tokens (left
 * padding leaves holes) and each row's next position. Keys are stored transposed so attention scores are
 * plain matmuls: keysT [rows·KVH, head_dim, S], values [rows·KVH, S, head_dim].
 */
export class KVCache {
  keysT: (tf.Tensor3D | null)[];
  values: (tf.Tensor3D | null)[];
  /** valid[row][slot] = 1 where the slot holds a real token. */
  valid: Uint8Array[];
  /** The position id the next real token of each row gets. */
  nextPosition: number[];

  constructor(
    readonly numLayers: number,
    readonly batch: number,
  ) {
    this.keysT = new Array(numLayers).fill(null);
    this.values = new Array(numLayers).fill(null);
    this.valid = Array.from({ length: batch }, () => new Uint8Array(0));
    this.nextPosition = new Array(batch).fill(0);
  }

  get length(): number {
    return this.valid[0]?.length ?? 0;
  }

  /** Appends one layer's new keys (transposed) and values; the cache keeps its tensors alive across tidy scopes. */
  append(layer: number, keysT: tf.Tensor3D, values: tf.Tensor3D): void {
    const oldK = this.keysT[layer],
      oldV = this.values[layer];
    this.keysT[layer] = tf.keep(oldK ? tf.concat([oldK, keysT], 2) : keysT.clone());
    this.values[layer] = tf.keep(oldV ? tf.concat([oldV, values], 1) : values.clone());
    oldK?.dispose();
    oldV?.dispose();
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
    for (const t of [...this.keysT, ...this.values]) t?.dispose();
    this.keysT.fill(null);
    this.values.fill(null);
  }
}
