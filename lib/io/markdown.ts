// Markdown tables (summary.md files and the terminal): a header row, a rule, and one row per entry, with
// `|` inside cells escaped so a cell never splits.
const cell = (c: string): string => c.replace(/\|/g, '\\|');

export function markdownTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(head), `| ${head.map(() => '---').join(' | ')} |`, ...rows.map(line)].join('\n');
}
