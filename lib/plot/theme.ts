// Look of every figure: a colour-blind-safe palette (Okabe & Ito), one font, sizes chosen so that a
// figure drawn at its nominal width stays legible when printed one column wide (≈ 8.5 cm).

/** Okabe–Ito colours, in the order categories receive them. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'] as const;

/** Fixed colours for the categories every figure shares. */
export const NAMED_COLOURS: Record<string, string> = {
  on_topic: '#0072B2',
  off_topic: '#D55E00',
  correction: '#E69F00',
  baseline: '#0072B2',
  ablate: '#D55E00',
  ablation: '#D55E00',
  random: '#009E73',
};

export const MUTED = '#9a9a9a';
export const INK = '#222222';
export const GRID = '#e6e6e6';

/** DejaVu Sans first: the PNG renderer finds it on Debian; browsers fall back to their sans-serif. */
export const FONT_FAMILY = "'DejaVu Sans', Arial, Helvetica, sans-serif";
export const FONT_SIZE = 11;
export const TICK_FONT_SIZE = 10;

/** Nominal width in CSS px: two columns of a paper. */
export const PAGE_WIDTH = 720;

/** PNG pixels per SVG px (3 × 360 px ≈ 8.5 cm at 300 dpi). */
export const PNG_SCALE = 3;

/** A colour per category: the shared one where it has one, else the palette in order of first appearance. */
export function colourMap(categories: string[]): Map<string, string> {
  const map = new Map<string, string>();
  const taken = new Set<string>();
  for (const c of categories) {
    const named = NAMED_COLOURS[c];
    if (named && !taken.has(named)) {
      map.set(c, named);
      taken.add(named);
    }
  }
  const free = PALETTE.filter((p) => !taken.has(p));
  let i = 0;
  for (const c of categories) if (!map.has(c)) map.set(c, free[i++ % free.length]);
  return map;
}
