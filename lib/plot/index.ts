// Figures of ESR runs: drawing functions that take plain data, and run-directory drivers.
export { BAR_METRICS, conditionBars, DELTA_EDGES, pairedDifferences, scoreDeltaHistograms } from './ablation.ts';
export {
  activationDistributions,
  type LatentDistribution,
  rankingPlot,
  type RankingPoint,
  stabilityPlot,
  type StabilityRow,
} from './discovery.ts';
export { discoveryActivations, readRankingPoints } from './discoveryData.ts';
export { type LatentRegions, type LatentTraces, meanCi, REGIONS, regionMeansPlot, tracesPlot } from './episodes.ts';
export type { Figure } from './figure.ts';
export type { MetricsSummary } from './metricsInfo.ts';
export { svgToPng, writeFigureFiles } from './render.ts';
export { buildFigures, FIGURES_DIR, type FigureOptions, scoreDeltas, writeFigures, type WrittenFigure } from './run.ts';
export { sweepPlot, sweepPoints, type SweepPoint } from './sweep.ts';
