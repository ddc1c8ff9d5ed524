// Figure inputs from an episodes run's episodes.json: per latent, region means with CIs across episodes,
// and the 50-bin traces.
import type { EpisodeReport } from '../discovery/episodeAnalysis.ts';
import { type LatentRegions, type LatentTraces, meanCi, REGIONS } from './episodes.ts';

export function episodesFigureData(
  report: EpisodeReport,
  labels: Map<number, string> = new Map(),
): { regions: LatentRegions[]; traces: LatentTraces[] } {
  const label = (l: number) => (labels.has(l) ? { label: labels.get(l) } : {});
  const regions = report.latents.map((l) => ({
    latent: l,
    ...label(l),
    regions: Object.fromEntries(
      REGIONS.map((g) => [g, meanCi(report.episodes.map((e) => e.region_means_by_latent?.[String(l)]?.[g] ?? NaN))]),
    ),
  }));
  const traces = report.latents.map((l) => ({
    latent: l,
    ...label(l),
    traces: report.episodes.map((e) => e.trace[String(l)]).filter(Array.isArray),
  }));
  return { regions, traces };
}
