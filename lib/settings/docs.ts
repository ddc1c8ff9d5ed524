// The options table of a settings table, for the docs (written by `npm run docs:settings`, checked by a
// test): flag, setting name, valid values, default (with the shipped model's and esr_defaults.json's),
// where config.json records it, and its doc line.
import { flagOf, renderRefs } from '../errors.ts';
import { markdownTable } from '../io/markdown.ts';
import { type Setting, showValue, snakeOf, type Table } from './table.ts';

function defaultText(name: string, s: Setting): string {
  const parts = [s.default === undefined ? '—' : showValue(s, s.default)];
  if (s.shipped !== undefined) parts.push(`shipped model: ${showValue(s, s.shipped)}`);
  if (s.sae) parts.push(`esr_defaults.json: \`${snakeOf(name)}\``);
  return parts.join('; ');
}

export function settingsTable(table: Table): string {
  const rows = Object.entries(table)
    .filter(([, s]) => !s.hidden)
    .map(([name, s]) => [
      `\`${flagOf(name)}\``,
      `\`${name}\``,
      s.expected,
      renderRefs(defaultText(name, s), flagOf),
      s.key === null ? '—' : `\`${s.key}\``,
      renderRefs(s.doc, flagOf),
    ]);
  return markdownTable(['flag', 'setting', 'value', 'default', 'config.json', 'meaning'], rows);
}
