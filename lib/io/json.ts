// Reading a JSON file, with an error that names the file (an InputError: exit 2).
import { readFileSync } from 'node:fs';
import { InputError } from '../errors.ts';

/** The parsed contents of `path`; a missing, unreadable or malformed file is an InputError naming it. */
export function readJson(path: string): any {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`${path}: cannot read (${(err as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InputError(`${path}: not JSON (${(err as Error).message})`);
  }
}

/** A JSON file that must hold an object (config files). */
export function readJsonObject(path: string): Record<string, unknown> {
  const value: unknown = readJson(path);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InputError(`${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/**
 * A value as error messages show it: numbers as JavaScript writes them (`Infinity` for a JSON `1e999`,
 * which JSON.stringify would print as `null`), anything else as JSON, cut to `max` characters.
 */
export function shown(value: unknown, max = 80): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
