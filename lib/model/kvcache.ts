// The KV cache's bookkeeping: a fixed number of slots, each holding up to `capacity` positions of one
// sequence, preallocated once and written in place (the keys and values themselves live on the device, in
// the kernels' storage). A step is a packed list of rows, each adding tokens to its own slot, so a row's
// positions and attention span depend on its own slot only, never on its batch neighbours.
import { InputError } from '../errors.ts';

/** One forward step: row r adds `counts[r]` tokens to cache slot `slots[r]`, rows packed one after another. */
export interface Step {
  /** Cache slot of each row. */
  slots: Int32Array;
  /** New tokens of each row (≥ 1). */
  counts: Int32Array;
  /** Row r's tokens are packed positions [offsets[r], offsets[r + 1]). */
  offsets: Int32Array;
  /** Cache position of each row's first new token (its slot's length before the step). */
  starts: Int32Array;
  /** Token ids, packed. */
  ids: Int32Array;
  /** Total new tokens (offsets[rows]). */
  tokens: number;
}

export class KVCache {
  /** Tokens held by each slot. */
  readonly lengths: Int32Array;
  /** Times each slot was emptied (a device's per-slot state, such as the seen-token set, restarts when it changes). */
  readonly resets: Uint32Array;
  /** Token ids each slot holds, [slots, capacity] (the repetition penalty's sequence so far). */
  private readonly ids: Int32Array;

  constructor(
    readonly slots: number,
    /** Positions each slot holds (prompt plus generated tokens). */
    readonly capacity: number,
    /** Frees the device storage (set by the model that allocated it). */
    private readonly release: () => void = () => {},
  ) {
    if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError(`KV cache: slots must be ≥ 1, found ${slots}`);
    if (!(Number.isInteger(capacity) && capacity >= 1))
      throw new RangeError(`KV cache: capacity must be ≥ 1, found ${capacity}`);
    this.lengths = new Int32Array(slots);
    this.resets = new Uint32Array(slots);
    this.ids = new Int32Array(slots * capacity);
  }

  /** The token ids slot `slot` holds, in order (a view: valid until the slot changes). */
  sequence(slot: number): Int32Array {
    return this.ids.subarray(slot * this.capacity, slot * this.capacity + this.lengths[slot]);
  }

  /**
   * The step that adds `rows[r]` to slot `slots[r]` (default: row r to slot r). Checks every slot has room
   * and no slot appears twice; records nothing until `commit`.
   */
  plan(rows: ArrayLike<number>[], slots?: ArrayLike<number>): Step {
    const R = rows.length;
    const slotOf = Int32Array.from({ length: R }, (_, r) => (slots ? slots[r] : r));
    const counts = Int32Array.from(rows, (row) => row.length);
    const offsets = new Int32Array(R + 1);
    for (let r = 0; r < R; r++) offsets[r + 1] = offsets[r] + counts[r];
    const seen = new Set<number>();
    slotOf.forEach((s, r) => {
      if (!(s >= 0 && s < this.slots)) throw new RangeError(`row ${r}: slot ${s} is outside 0..${this.slots - 1}`);
      if (seen.has(s)) throw new RangeError(`row ${r}: slot ${s} appears twice in one step`);
      seen.add(s);
      if (counts[r] < 1) throw new RangeError(`row ${r}: no tokens`);
      if (this.lengths[s] + counts[r] > this.capacity)
        throw new InputError(
          `sequence ${r}: ${this.lengths[s] + counts[r]} tokens, past the KV cache's ${this.capacity} positions per sequence`,
        );
    });
    const ids = new Int32Array(offsets[R]);
    rows.forEach((row, r) => ids.set(Array.from(row), offsets[r]));
    const starts = Int32Array.from(slotOf, (s) => this.lengths[s]);
    return { slots: slotOf, counts, offsets, starts, ids, tokens: offsets[R] };
  }

  /** Records a step's tokens as held (after its keys and values are written). */
  commit(step: Step): void {
    step.slots.forEach((s, r) => {
      this.ids.set(step.ids.subarray(step.offsets[r], step.offsets[r + 1]), s * this.capacity + this.lengths[s]);
      this.lengths[s] += step.counts[r];
    });
  }

  /** Empties a slot for the next sequence (its old keys and values are simply overwritten). */
  reset(slot: number): void {
    this.lengths[slot] = 0;
    this.resets[slot]++;
  }

  dispose(): void {
    this.release();
  }
}
