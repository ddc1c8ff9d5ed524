// Line-oriented inputs: JSONL records and `index[,label]` CSV rows, with errors that name file and line.
import { InputError } from '../errors.ts';
import { shown } from './json.ts';

export interface JsonlRecord {
  value: unknown;
  /** `file:line`, for error messages. */
  where: string;
}

/** Every non-blank line of `text` parsed as JSON. */
export function jsonlRecords(text: string, path: string): JsonlRecord[] {
  const out: JsonlRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `${path}:${i + 1}`;
    try {
      out.push({ value: JSON.parse(line), where });
    } catch (err) {
      throw new InputError(`${where}: not JSON (${(err as Error).message})`);
    }
  });
  return out;
}

/** Rows `index[,label]` (a first line that is not one is taken as a header); labels lose surrounding quotes. */
export function indexLabelRows(text: string, path: string): { index: number; label: string | null }[] {
  const out: { index: number; label: string | null }[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const comma = line.indexOf(',');
    const head = (comma < 0 ? line : line.slice(0, comma)).trim();
    if (!/^\d+$/.test(head)) {
      if (i === 0) return;
      throw new InputError(`${path}:${i + 1}: expected index[,label], found ${shown(line.slice(0, 60))}`);
    }
    out.push({
      index: Number(head),
      label:
        comma < 0
          ? null
          : line
              .slice(comma + 1)
              .trim()
              .replace(/^"(.*)"$/, '$1') || null,
    });
  });
  return out;
}
