// Pools an activation store's per-token codes over a named span of every sample.
import { InputError } from '../errors.ts';
import type { ActsStore } from '../store/reader.ts';
import { Pooler, type PoolMode, type PooledCodes } from './sparse.ts';

export interface PooledStore {
  codes: PooledCodes;
  /** 1 where the sample has a non-empty span (others must not enter any statistic). */
  hasSpan: Uint8Array;
  span: string;
  mode: PoolMode;
}

export async function poolStore(store: ActsStore, span = 'response', mode: PoolMode = 'max'): Promise<PooledStore> {
  const s = store.samples.spans[span];
  if (!s)
    throw new InputError(`${store.dir}: no span named ${span} (have: ${Object.keys(store.samples.spans).join(', ')})`);
  const hasSpan = Uint8Array.from({ length: store.samples.n }, (_, r) =>
    s.start[r] >= 0 && s.end[r] > s.start[r] ? 1 : 0,
  );
  const pooler = new Pooler(store.samples.n, store.meta.d_sae, s.start, s.end, mode);
  for await (const batch of store.codeBatches()) pooler.add(batch);
  return { codes: pooler.finish(), hasSpan, span, mode };
}
