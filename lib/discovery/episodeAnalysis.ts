// Episode statistics from an activation store of self-correction responses: per-latent region means
// compared across episodes (paired), and per-episode traces over 50 equal bins of the response.
import { compareRegions, type RegionComparison, type RegionMeans } from '../stats/episodes.ts';
import { poolStore } from '../stats/poolStore.ts';
import type { ActsStore } from '../store/reader.ts';
import { REGIONS, type Region } from './episodes.ts';
import { BINNING, binMeans } from './traces.ts';

/** The region pairs compared, x vs y (x − y in the statistics). */
const COMPARISONS: [Region, Region][] = [
  ['off_topic', 'on_topic'],
  ['off_topic', 'correction'],
  ['correction', 'on_topic'],
];

export interface EpisodeTrace {
  id: string;
  n_tokens: number;
  /** Token span of the response and of each region ([start, end) in the rendered conversation), null where missing. */
  response: [number, number];
  regions: Record<Region, [number, number] | null>;
  /** Each region as a fraction [from, to) of the response, on the traces' axis. */
  regions_fraction: Record<Region, [number, number] | null>;
  /** Mean code over the region, averaged over the latents; null where the region is missing. */
  region_means: Record<Region, number | null>;
  /** The same per latent (as a string key). */
  region_means_by_latent: Record<string, Record<Region, number | null>>;
  /** Per latent (as a string key), the mean code in each of the 50 bins. */
  trace: Record<string, number[]>;
  /** The traces averaged over the latents. */
  trace_mean: number[];
}

export interface EpisodeReport {
  latents: number[];
  n_episodes: number;
  /** Episodes lacking each region. */
  missing: Record<Region, number>;
  comparisons: {
    x: Region;
    y: Region;
    alternative: 'two-sided';
    n_pairs: number;
    results: Record<string, unknown>[];
  }[];
  binning: typeof BINNING;
  /** Traces averaged over the latents and the episodes. */
  mean_trace: number[];
  episodes: EpisodeTrace[];
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

function comparisonJson(c: RegionComparison): Record<string, unknown> {
  return {
    latent: c.latent === -1 ? 'mean' : c.latent,
    n_pairs: c.n_pairs,
    n_missing: c.n_missing,
    mean_x: finite(c.mean_x),
    mean_y: finite(c.mean_y),
    ratio: finite(c.ratio),
    d_z: finite(c.d_z),
    wilcoxon: { statistic: finite(c.wilcoxon.statistic), p: finite(c.wilcoxon.p) },
    paired_t: { statistic: finite(c.paired_t.statistic), df: finite(c.paired_t.df), p: finite(c.paired_t.p) },
    strat: { auc: finite(c.strat.auc), p: finite(c.strat.p), untied: c.strat.untied },
  };
}

/** Per-token codes of the chosen latents over each sample's response span: [sample][latent k] → Float64Array of tokens. */
async function responseCodes(store: ActsStore, latents: number[]): Promise<Float64Array[][]> {
  const { start, end } = store.samples.spans.response;
  const column = new Map(latents.map((l, k) => [l, k]));
  const codes = Array.from({ length: store.samples.n }, (_, r) =>
    latents.map(() => new Float64Array(Math.max(0, end[r] - start[r]))),
  );
  for await (const b of store.codeBatches()) {
    for (let i = 0; i < b.row.length; i++) {
      const k = column.get(b.latent[i]);
      const r = b.row[i];
      if (k !== undefined && b.token[i] >= start[r] && b.token[i] < end[r])
        codes[r][k][b.token[i] - start[r]] = b.value[i];
    }
  }
  return codes;
}

/** `order`: episode ids in the order to report them (the input file's); the store keeps capture order. */
export async function analyseEpisodes(
  store: ActsStore,
  latents: number[],
  order: string[] = store.samples.id,
): Promise<EpisodeReport> {
  const { id, n } = store.samples;
  const means = {} as Record<Region, RegionMeans>;
  for (const region of REGIONS) {
    if (!store.samples.spans[region]) {
      means[region] = {
        codes: {
          nSamples: n,
          dSae: store.meta.d_sae,
          indptr: new Int32Array(n + 1),
          latents: new Int32Array(0),
          values: new Float64Array(0),
        },
        present: new Uint8Array(n),
      };
      continue;
    }
    const pooled = await poolStore(store, region, 'mean');
    means[region] = { codes: pooled.codes, present: pooled.hasSpan };
  }
  const missing = Object.fromEntries(
    REGIONS.map((g) => [g, means[g].present.reduce((m, p) => m + (p ? 0 : 1), 0)]),
  ) as Record<Region, number>;
  const comparisons = COMPARISONS.map(([x, y]) => {
    const pairs = means[x].present.reduce((m, p, r) => m + (p && means[y].present[r] ? 1 : 0), 0);
    // A comparison needs two paired episodes; with fewer it is reported as empty, never computed on misaligned data.
    const results = pairs >= 2 ? compareRegions(id, means[x], means[y], latents, 'two-sided').map(comparisonJson) : [];
    return { x, y, alternative: 'two-sided' as const, n_pairs: pairs, results };
  });

  const perToken = await responseCodes(store, latents);
  const { start, end } = store.samples.spans.response;
  const episodes: EpisodeTrace[] = id.map((episodeId, r) => {
    const length = end[r] - start[r];
    const trace: Record<string, number[]> = {};
    const binned = latents.map((_, k) => Array.from(binMeans(perToken[r][k], BINNING.bins)));
    latents.forEach((l, k) => (trace[String(l)] = binned[k]));
    const traceMean = Array.from(
      { length: BINNING.bins },
      (_, b) => binned.reduce((s, t) => s + t[b], 0) / latents.length,
    );
    const regions = {} as EpisodeTrace['regions'];
    const fractions = {} as EpisodeTrace['regions_fraction'];
    const regionMeans = {} as EpisodeTrace['region_means'];
    const byLatent: EpisodeTrace['region_means_by_latent'] = Object.fromEntries(
      latents.map((l) => [String(l), {} as Record<Region, number | null>]),
    );
    for (const g of REGIONS) {
      const s = store.samples.spans[g];
      const has = means[g].present[r] === 1;
      regions[g] = has ? [s.start[r], s.end[r]] : null;
      fractions[g] = has ? [(s.start[r] - start[r]) / length, (s.end[r] - start[r]) / length] : null;
      regionMeans[g] = has ? meanOver(means[g], r, latents) : null;
      for (const l of latents) byLatent[String(l)][g] = has ? meanOver(means[g], r, [l]) : null;
    }
    return {
      id: episodeId,
      n_tokens: store.samples.n_tokens[r],
      response: [start[r], end[r]],
      regions,
      regions_fraction: fractions,
      region_means: regionMeans,
      region_means_by_latent: byLatent,
      trace,
      trace_mean: traceMean,
    };
  });
  const position = new Map(order.map((e, i) => [e, i]));
  episodes.sort((x, y) => (position.get(x.id) ?? Infinity) - (position.get(y.id) ?? Infinity));
  const meanTrace = Array.from(
    { length: BINNING.bins },
    (_, b) => episodes.reduce((s, e) => s + e.trace_mean[b], 0) / episodes.length,
  );
  return { latents, n_episodes: n, missing, comparisons, binning: BINNING, mean_trace: meanTrace, episodes };
}

function meanOver(m: RegionMeans, r: number, latents: number[]): number {
  const want = new Set(latents);
  let sum = 0;
  for (let k = m.codes.indptr[r]; k < m.codes.indptr[r + 1]; k++)
    if (want.has(m.codes.latents[k])) sum += m.codes.values[k];
  return sum / latents.length;
}
