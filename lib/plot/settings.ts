// The settings of drawing a run's figures (analyze plot, and the figures analyze report embeds).
import { text } from '../settings/kinds.ts';

export const PLOT_SETTINGS = {
  boostLabel: text({ doc: 'x-axis label of the boost sweep figure', default: null, auto: 'boost', key: null }),
};
