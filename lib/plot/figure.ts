// Building blocks of every figure: an SVG canvas drawn by d3 on a server-side DOM (d3-node), plot
// frames with margins, labelled axes, legends, and the finished figure as an SVG string.
import * as d3 from 'd3';
import { D3Node } from 'd3-node';
import { FONT_FAMILY, FONT_SIZE, GRID, INK, TICK_FONT_SIZE } from './theme.ts';

/** A d3 selection on the server-side DOM (element types are not tracked). */
export type Sel = d3.Selection<any, any, any, any>;

export interface Figure {
  /** File stem under figures/ (e.g. `ablation-rates`). */
  name: string;
  title: string;
  /** What a paper caption would say, with n. */
  caption: string;
  svg: string;
  width: number;
  height: number;
}

export interface Canvas {
  svg: Sel;
  width: number;
  height: number;
  /** Serialises the drawing, with its title and caption as SVG <title>/<desc>. */
  finish(name: string, title: string, caption: string): Figure;
}

export function canvas(width: number, height: number): Canvas {
  const d3n = new D3Node();
  const svg: Sel = d3n
    .createSVG(width, height)
    .attr('viewBox', `0 0 ${width} ${height}`)
    .attr('font-family', FONT_FAMILY)
    .attr('font-size', FONT_SIZE)
    .attr('fill', INK);
  const titleNode = svg.append('title');
  const descNode = svg.append('desc');
  svg.append('rect').attr('class', 'background').attr('width', width).attr('height', height).attr('fill', '#ffffff');
  return {
    svg,
    width,
    height,
    finish(name, title, caption) {
      titleNode.text(title);
      descNode.text(caption);
      return { name, title, caption, svg: d3n.svgString(), width, height };
    },
  };
}

export interface Margin {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/** The inner plotting area of one panel: `g` is translated so (0, 0) is its top-left corner. */
export interface Frame {
  g: Sel;
  width: number;
  height: number;
  margin: Margin;
}

/** A panel at (x, y) of the given outer size; data are drawn in `g` inside the margins. */
export function frame(
  parent: Sel,
  x: number,
  y: number,
  outerWidth: number,
  outerHeight: number,
  margin: Margin,
  cls = 'panel',
): Frame {
  const g = parent
    .append('g')
    .attr('class', cls)
    .attr('transform', `translate(${x + margin.left},${y + margin.top})`);
  return {
    g,
    width: outerWidth - margin.left - margin.right,
    height: outerHeight - margin.top - margin.bottom,
    margin,
  };
}

type AnyScale = d3.AxisScale<any> & { ticks?: (n?: number) => any[] };

function styleAxis(axis: Sel): void {
  axis.attr('font-family', null).attr('font-size', TICK_FONT_SIZE).attr('fill', null);
  axis.selectAll('.domain').attr('stroke', INK).attr('fill', 'none');
  axis.selectAll('.tick line').attr('stroke', INK);
  axis.selectAll('.tick text').attr('fill', INK);
}

/** Left axis with its label rotated beside it, and light horizontal grid lines at the ticks. */
export function leftAxis(
  f: Frame,
  scale: AnyScale,
  label: string,
  opts: { format?: (v: any) => string; ticks?: number; grid?: boolean; integer?: boolean } = {},
): Sel {
  // offset 0: ticks exactly at their values (d3's default shifts them half a pixel)
  const axis = d3
    .axisLeft(scale)
    .ticks(opts.ticks ?? 5)
    .offset(0);
  const values = scale.ticks
    ? scale.ticks(opts.ticks ?? 5).filter((v: number) => !opts.integer || Number.isInteger(v))
    : [];
  if (opts.integer) axis.tickValues(values).tickFormat(d3.format('d'));
  if (opts.format) axis.tickFormat(opts.format);
  if (opts.grid !== false && scale.ticks) {
    f.g
      .insert('g', ':first-child')
      .attr('class', 'grid')
      .selectAll('line')
      .data(values)
      .join('line')
      .attr('x1', 0)
      .attr('x2', f.width)
      .attr('y1', (d: any) => scale(d) as number)
      .attr('y2', (d: any) => scale(d) as number)
      .attr('stroke', GRID);
  }
  const g = f.g
    .append('g')
    .attr('class', 'y-axis')
    .call((g) => axis(g));
  styleAxis(g);
  f.g
    .append('text')
    .attr('class', 'y-label')
    .attr('transform', `translate(${-f.margin.left + 12},${f.height / 2}) rotate(-90)`)
    .attr('text-anchor', 'middle')
    .text(label);
  return g;
}

/** Bottom axis at the frame's foot with its label centred below. */
export function bottomAxis(
  f: Frame,
  scale: AnyScale,
  label: string,
  opts: { format?: (v: any) => string; ticks?: number; labelOffset?: number } = {},
): Sel {
  const axis = d3.axisBottom(scale).offset(0);
  if (scale.ticks) axis.ticks(opts.ticks ?? 5);
  if (opts.format) axis.tickFormat(opts.format);
  const g = f.g
    .append('g')
    .attr('class', 'x-axis')
    .attr('transform', `translate(0,${f.height})`)
    .call((g) => axis(g));
  styleAxis(g);
  if (label) {
    f.g
      .append('text')
      .attr('class', 'x-label')
      .attr('x', f.width / 2)
      .attr('y', f.height + (opts.labelOffset ?? 32))
      .attr('text-anchor', 'middle')
      .text(label);
  }
  return g;
}

export function panelTitle(f: Frame, text: string): void {
  f.g.append('text').attr('class', 'panel-title').attr('x', 0).attr('y', -8).attr('font-weight', 'bold').text(text);
}

/** A dashed vertical reference line across the frame at x (e.g. "no difference"). */
export function zeroLine(f: Frame, x: number, colour: string): void {
  f.g
    .append('line')
    .attr('class', 'zero')
    .attr('x1', x)
    .attr('x2', x)
    .attr('y1', 0)
    .attr('y2', f.height)
    .attr('stroke', colour)
    .attr('stroke-dasharray', '3,3');
}

export interface LegendItem {
  label: string;
  colour: string;
  shape: 'rect' | 'circle' | 'line';
}

/** A rough text width (no layout engine on the server): average glyph ≈ 0.6 em. */
const textWidth = (s: string, size = FONT_SIZE): number => s.length * size * 0.6;

/** A one-row legend starting at (x, y). */
export function legend(parent: Sel, x: number, y: number, items: LegendItem[]): void {
  const g = parent.append('g').attr('class', 'legend').attr('transform', `translate(${x},${y})`);
  let at = 0;
  for (const it of items) {
    const item = g.append('g').attr('class', 'legend-item').attr('transform', `translate(${at},0)`);
    if (it.shape === 'rect')
      item.append('rect').attr('x', 0).attr('y', -8).attr('width', 10).attr('height', 10).attr('fill', it.colour);
    else if (it.shape === 'circle')
      item.append('circle').attr('cx', 5).attr('cy', -3).attr('r', 4).attr('fill', it.colour);
    else
      item
        .append('line')
        .attr('x1', 0)
        .attr('x2', 12)
        .attr('y1', -3)
        .attr('y2', -3)
        .attr('stroke', it.colour)
        .attr('stroke-width', 2);
    item.append('text').attr('x', 16).attr('y', 1).text(it.label);
    at += 16 + textWidth(it.label) + 14;
  }
}

/** Percent tick labels for fractions (0.05 → "5%"), with enough decimals for small ranges. */
export function percentFormat(domainMax: number): (v: number) => string {
  return d3.format(domainMax < 0.05 ? '.1%' : '.0%');
}

/** Numbers as a person writes them: U+2212 minus, no trailing zeros. */
export const num = (x: number, digits = 2): string => (Number.isFinite(x) ? d3.format(`.${digits}~f`)(x) : 'n/a');

/** Wraps a label onto lines of at most `max` characters (for tick labels under narrow bars). */
export function wrapLines(text: string, max: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(/\s+/)) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 1 + word.length <= max) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

/** Height of the strip `markApproximation` adds below a figure. */
const NOTE_HEIGHT = 18;

/**
 * The figure with a visible note in a strip added below it (and in its title and caption): for rates
 * computed from the heuristic judge, which is an approximation, not an LLM judgment.
 */
export function markApproximation(fig: Figure, note: string): Figure {
  const height = fig.height + NOTE_HEIGHT;
  const escaped = note.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const svg = fig.svg
    .replace(/^(<svg[^>]*?) height="[^"]*"/, `$1 height="${height}"`)
    .replace(/^(<svg[^>]*?) viewBox="0 0 ([\d.]+) [\d.]+"/, `$1 viewBox="0 0 $2 ${height}"`)
    .replace(
      /<\/svg>\s*$/,
      `<rect class="approximation-strip" x="0" y="${fig.height}" width="${fig.width}" height="${NOTE_HEIGHT}" fill="#ffffff"/>` +
        `<text class="approximation" x="6" y="${fig.height + 13}" font-size="10" fill="#b00020">${escaped}</text></svg>`,
    );
  return {
    ...fig,
    svg,
    height,
    title: `${fig.title} (heuristic judge: approximation)`,
    caption: `${fig.caption} ${note[0].toUpperCase()}${note.slice(1)}.`,
  };
}
