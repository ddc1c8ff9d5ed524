// The kinds of setting a table declares: integers and numbers with bounds, text, paths, booleans, one of a
// list, and custom ones (a command-line format parsed into the library's value). Each builder's value type
// follows its default: a number default gives `number`, `default: null` gives `number | null` (computed
// where used), no default gives `number | undefined`.
import { SettingError, settingRef } from '../errors.ts';
import type { Cli, Conflict, Requires, Setting } from './table.ts';

/** What every kind of setting declares beside its type. */
export interface Common<T> {
  doc: string;
  key: string | null;
  shipped?: T;
  auto?: string;
  sae?: 'value' | 'path';
  requires?: Requires;
  conflicts?: readonly Conflict[];
  hidden?: boolean;
  /** The value as the command line writes it (docs, --help, --dry-run). */
  show?(v: T): string;
}

type Bound = { min?: number; max?: number; open?: 'min' | 'max' | 'both' };

/** "an integer ≥ 1", "a number in (0, 100)", "a finite number". */
function rangeText(what: string, b: Bound): string {
  const lo = b.open === 'min' || b.open === 'both' ? '(' : '[';
  const hi = b.open === 'max' || b.open === 'both' ? ')' : ']';
  if (b.min !== undefined && b.max !== undefined) return `${what} in ${lo}${b.min}, ${b.max}${hi}`;
  if (b.min !== undefined) return `${what} ${lo === '(' ? '>' : '≥'} ${b.min}`;
  if (b.max !== undefined) return `${what} ${hi === ')' ? '<' : '≤'} ${b.max}`;
  return what;
}

function inRange(v: number, b: Bound): boolean {
  const openMin = b.open === 'min' || b.open === 'both';
  const openMax = b.open === 'max' || b.open === 'both';
  return (
    (b.min === undefined || (openMin ? v > b.min : v >= b.min)) &&
    (b.max === undefined || (openMax ? v < b.max : v <= b.max))
  );
}

/** An integer (safe, so `1e300` is refused) within bounds. */
export function int<const D extends number | null | undefined = undefined>(
  o: Common<number> & Bound & { default?: D },
): Setting<number | Exclude<D, number>, number> {
  return {
    ...o,
    default: o.default as number | Exclude<D, number>,
    cli: { type: 'number' },
    expected: rangeText('an integer', o),
    valid: (v) => typeof v === 'number' && Number.isSafeInteger(v) && inRange(v, o),
  };
}

/** A finite number within bounds. */
export function num<const D extends number | null | undefined = undefined>(
  o: Common<number> & Bound & { default?: D },
): Setting<number | Exclude<D, number>, number> {
  return {
    ...o,
    default: o.default as number | Exclude<D, number>,
    cli: { type: 'number' },
    expected: rangeText('a number', o),
    valid: (v) => typeof v === 'number' && Number.isFinite(v) && inRange(v, o),
  };
}

/** Non-empty text (a file or directory path, a name). */
export function text<const D extends string | null | undefined = undefined>(
  o: Common<string> & { default?: D; expected?: string },
): Setting<string | Exclude<D, string>, string> {
  return {
    ...o,
    default: o.default as string | Exclude<D, string>,
    cli: { type: 'string' },
    expected: o.expected ?? 'non-empty text',
    valid: (v) => typeof v === 'string' && v.trim() !== '',
  };
}

export function bool<const D extends boolean | undefined = undefined>(
  o: Common<boolean> & { default?: D },
): Setting<boolean | Exclude<D, boolean>, boolean> {
  return {
    ...o,
    default: o.default as boolean | Exclude<D, boolean>,
    cli: { type: 'boolean' },
    expected: 'true or false',
    valid: (v) => typeof v === 'boolean',
  };
}

/** One of a list of names (checked here, not by yargs, so a notebook gets the same message). */
export function oneOf<const C extends readonly string[], const D extends C[number] | null | undefined = undefined>(
  choices: C,
  o: Common<C[number]> & { default?: D },
): Setting<C[number] | Exclude<D, string>, C[number]> {
  return {
    ...o,
    default: o.default as C[number] | Exclude<D, string>,
    cli: { type: 'string', choices },
    expected: `one of ${choices.join(', ')}`,
    valid: (v) => typeof v === 'string' && choices.includes(v),
  };
}

/** A setting of its own shape: the library's value type T, the command line's C parsed into it. */
export function custom<T, C = T>(
  o: Common<T> & {
    default: T;
    cli: Cli;
    expected: string;
    valid(v: unknown): boolean;
    parse?(cli: C, name: string): T;
  },
): Setting<T, C> {
  return o;
}

/** A copy of a shared setting with this stage's default (and key or doc). */
export function withDefault<T, C>(
  s: Setting<T, C>,
  o: { default?: T; shipped?: T; key?: string | null; doc?: string },
): Setting<T, C> {
  return { ...s, ...o };
}

/** A format error in a command-line value, naming the setting: `‹name› "text": expected …`. */
export function formatError(name: string, value: string, expected: string): SettingError {
  return new SettingError(`${settingRef(name)} ${JSON.stringify(value)}: expected ${expected}`);
}

/** `a,b,c` → ['a', 'b', 'c'] (blanks dropped). */
export const commaList = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const isTextList = (v: unknown): v is string[] =>
  Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x.trim() !== '');

/** A file of lines (the command line) or the lines themselves (a notebook): prompts, responses. */
export function fileOrLines<const D extends string | null | undefined = undefined>(
  o: Common<string | string[]> & { default?: D; what: string },
): Setting<string | string[] | Exclude<D, string>, string> {
  return {
    ...o,
    default: o.default as string | string[] | Exclude<D, string>,
    cli: { type: 'string' },
    expected: `a ${o.what} file, or a list of non-empty strings`,
    valid: (v) => (typeof v === 'string' && v.trim() !== '') || isTextList(v),
    show: (v) =>
      Array.isArray(v) ? `(a list of ${v.length})` : typeof v === 'string' ? (o.show?.(v) ?? v) : String(v),
  };
}
