// The settings of `analyze report DIR`: where report.html goes, the figures' settings and how many examples.
import { PLOT_SETTINGS } from '../plot/settings.ts';
import { int, text } from '../settings/kinds.ts';

export const REPORT_SETTINGS = {
  out: text({ doc: 'output file', expected: 'a file path', default: null, auto: 'DIR/report.html', key: null }),
  ...PLOT_SETTINGS,
  examples: int({
    doc: 'example responses per condition, attempts marked and scored (0 = none)',
    min: 0,
    default: 3,
    key: null,
  }),
};
