// Figures to files: the SVG as drawn, and a PNG rasterised by resvg (no browser needed).
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { writeFileAtomic } from '../io/atomic.ts';
import type { Figure } from './figure.ts';
import { PNG_SCALE } from './theme.ts';

export function svgToPng(svg: string, scale = PNG_SCALE): Uint8Array {
  const resvg = new Resvg(svg, {
    background: '#ffffff',
    fitTo: { mode: 'zoom', value: scale },
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

/** Writes `<name>.svg` and `<name>.png` into `dir` (atomically); returns the two paths. */
export function writeFigureFiles(dir: string, fig: Figure): { svg: string; png: string } {
  const svg = join(dir, `${fig.name}.svg`);
  const png = join(dir, `${fig.name}.png`);
  writeFileAtomic(svg, `<?xml version="1.0" encoding="UTF-8"?>\n${fig.svg}\n`);
  writeFileAtomic(png, svgToPng(fig.svg));
  return { svg, png };
}
