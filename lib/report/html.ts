// Small HTML builders for the report: escaping, tables, the page shell with its inline stylesheet.

export function escapeHtml(s: unknown): string {
  return String(s ?? '').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** A numeric cell: right-aligned with tabular figures (`td.num` in the stylesheet). */
export interface NumberCell {
  num: string;
}
export const num = (html: string): NumberCell => ({ num: html });

/** A table cell: already-escaped HTML, or a numeric one. */
export type Cell = string | NumberCell;

const td = (c: Cell): string => (typeof c === 'string' ? `<td>${c}</td>` : `<td class="num">${c.num}</td>`);

/** A table of already-escaped cell HTML (use `escapeHtml` on data); `num(...)` cells are right-aligned. */
export function table(headers: string[], rows: Cell[][], cls = ''): string {
  const head = `<tr>${headers.map((h) => `<th>${h}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map(td).join('')}</tr>`).join('\n');
  return `<table${cls ? ` class="${cls}"` : ''}><thead>${head}</thead><tbody>\n${body}\n</tbody></table>`;
}

/** Key/value rows (values escaped here). */
export function facts(rows: [string, unknown][]): string {
  return `<table class="facts"><tbody>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</tbody></table>`;
}

export function details(summary: string, json: unknown): string {
  return `<details><summary>${escapeHtml(summary)}</summary><pre>${escapeHtml(JSON.stringify(json, null, 2))}</pre></details>`;
}

const STYLE = `
body { font-family: 'DejaVu Sans', Arial, Helvetica, sans-serif; color: #222; max-width: 1000px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
thead th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { background: #f7f7f7; font-weight: normal; color: #555; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; margin-top: 0.4em; }
.warning { border-left: 5px solid #D55E00; background: #fff4ec; padding: 0.6em 1em; margin: 1em 0; }
.note { border-left: 5px solid #0072B2; background: #eef6fb; padding: 0.6em 1em; margin: 1em 0; }
pre { background: #f7f7f7; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
.muted { color: #777; }
.example { border: 1px solid #ddd; border-radius: 4px; margin: 1em 0; padding: 0.6em 0.9em; }
.example .meta { font-size: 0.85em; color: #555; margin: 0.2em 0 0.5em; }
.example .tag { display: inline-block; font-size: 0.8em; padding: 0 0.5em; border-radius: 3px; background: #eee; margin-right: 0.4em; }
.example .response { white-space: pre-wrap; line-height: 1.6; }
.example .attempt { border-bottom: 3px solid var(--c); background: color-mix(in srgb, var(--c) 9%, white); }
.example .badge { display: inline-block; font-size: 0.75em; font-weight: bold; color: white; background: var(--c); border-radius: 3px; padding: 0 0.4em; margin-right: 0.3em; white-space: nowrap; }
.example .between { color: #888; }
`;

export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}
