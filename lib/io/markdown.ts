// Markdown tables (summary.md files and the terminal): a header row, a rule, and one row per entry. Cells
// may hold user text (latent labels): `|` is escaped and line breaks folded so a cell never splits a row,
// `<`/`>` are entities so a label cannot inject HTML, and control characters are dropped.
const cell = (c: string): string =>
  c
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
    .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '');

export function markdownTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(head), `| ${head.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}
