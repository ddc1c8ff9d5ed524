// Settings tables: each stage declares every setting once (type and bounds, default, shipped-model
// override, config.json key, one doc line; the CLI flag is the name in kebab case). From the table come the
// one validator the library and the command line share, the layered merge with each value's origin, the
// config.json record, the yargs options (lib/cli/settings.ts) and the docs' options tables (docs.ts).
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import { InputError, SettingError, settingRef as ref } from '../errors.ts';
import { shown } from '../io/json.ts';

/** Where a resolved value came from, highest precedence first. */
export const ORIGINS = ['explicit', 'esr_defaults.json', 'shipped model', 'default'] as const;
export type Origin = (typeof ORIGINS)[number];

/** How the command line takes a setting. */
export type Cli =
  | { type: 'number' | 'string' | 'boolean' }
  | { type: 'string'; array: true }
  | { type: 'string'; choices: readonly string[] };

/** When a setting applies; given when it does not, it is refused (a default that does not apply is ignored). */
export type Requires =
  /** One of these settings has a value. */
  | { given: readonly string[] }
  /** This setting has no value. */
  | { absent: string; why: string }
  /** This list-valued setting includes the value. */
  | { includes: readonly [string, string] };

/** Two settings that cannot both be given. */
export interface Conflict {
  with: string;
  why: string;
}

export interface Setting<T = unknown, C = unknown> {
  /** One line, for --help and the docs. */
  readonly doc: string;
  /** The paper's (or the toolkit's) default; null: computed where it is used (`auto` says how); undefined: none. */
  readonly default: T | undefined;
  /** What a null default means ("the SAE's layer"). */
  readonly auto?: string;
  /** The value on the shipped model and SAE only, where not given. */
  readonly shipped?: T;
  /** Where config.json records the value (a dot path), or null: not recorded (it does not change the results). */
  readonly key: string | null;
  /** Whether an SAE's esr_defaults.json may set it (key: the name in snake case; `path`: relative to the SAE's folder). */
  readonly sae?: 'value' | 'path';
  readonly cli: Cli;
  /** What a valid value is, for messages and the docs ("an integer ≥ 1"). */
  readonly expected: string;
  /** Whether a value (not null) is one of `expected`. */
  valid(v: unknown): boolean;
  /** The command line's value as the library's (a format error throws a SettingError naming the setting). */
  parse?(cli: C, name: string): T;
  /** A value as written on the command line (docs, --help, --dry-run). */
  show?(v: T): string;
  readonly requires?: Requires;
  readonly conflicts?: readonly Conflict[];
  /** Left out of --help (an old name still accepted). */
  readonly hidden?: boolean;
}

export type Table = { readonly [name: string]: Setting };

/** The library's value of each setting (after the merge). */
export type Values<S extends Table> = { -readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };
/** What a caller gives: any of the settings, each a value of the library's type. */
export type Input<S extends Table> = { [K in keyof S]?: Values<S>[K] };
/** The command line's value of each setting, by name (yargs gives camelCase keys beside the flags). */
export type CliArgs<S extends Table> = {
  [K in keyof S]?: S[K] extends Setting<unknown, infer C> ? C : never;
};
export type Origins<S extends Table> = { [K in keyof S]: Origin };

export interface Resolved<S extends Table> {
  values: Values<S>;
  origins: Origins<S>;
  /** Values of a lower layer (esr_defaults.json, the shipped model) set aside because an explicit setting excludes them. */
  setAside: SetAside[];
}

/** A lower layer's value not used: `by` was given and excludes it (a conflict, or `by` applies only without it). */
export interface SetAside {
  name: string;
  origin: Origin;
  value: unknown;
  by: string;
}

/** Settings from outside the call: the SAE's esr_defaults.json and whether the shipped model and SAE are in use. */
export interface Sources {
  shipped: boolean;
  sae: SaeDefaults | null;
}

/** The values of an SAE's esr_defaults.json, by key (snake case), with the file they came from. */
export interface SaeDefaults {
  file: string;
  dir: string;
  values: Readonly<Record<string, unknown>>;
}

export const NO_SOURCES: Sources = { shipped: false, sae: null };

/** `maxTokens` → `max_tokens`: a setting's key in esr_defaults.json. */
export const snakeOf = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The value as the command line writes it. */
export function showValue(s: Setting, v: unknown): string {
  if (v === null) return s.auto ?? 'none';
  return s.show ? s.show(v) : typeof v === 'string' ? v : shown(v);
}

const hasValue = (v: unknown): boolean => v !== undefined && v !== null;

/** Refuses an invalid value; `where` names it (the setting, or a file and key). */
function checkValue(s: Setting, v: unknown, where: string): void {
  if (v === null && s.default === null) return; // "automatic", asked for explicitly
  if (!s.valid(v)) throw new SettingError(`${where}: expected ${s.expected}, found ${shown(v)}`);
}

/** A value from esr_defaults.json, checked; a path is relative to the SAE's folder, must stay inside it and exist. */
function fileValue(s: Setting, name: string, v: unknown, file: SaeDefaults): unknown {
  const where = `${file.file}: ${snakeOf(name)}`;
  checkValue(s, v, where);
  if (s.sae !== 'path' || typeof v !== 'string') return v;
  const path = resolve(file.dir, v);
  const inside = relative(file.dir, path);
  if (inside.startsWith('..') || resolve(file.dir, inside) !== path)
    throw new InputError(`${where}: ${JSON.stringify(v)} is outside the SAE's folder (paths there are relative to it)`);
  if (!existsSync(path)) throw new InputError(`${where}: ${path} not found`);
  // nor through a link: a downloaded SAE must not make an error message echo another file of this machine
  const real = relative(realpathSync(file.dir), realpathSync(path));
  if (real.startsWith('..') || isAbsolute(real))
    throw new InputError(
      `${where}: ${JSON.stringify(v)} leads outside the SAE's folder (a link); give the file as a flag to use it`,
    );
  return path;
}

/** The explicit values checked one by one and against each other: the same errors for a notebook and the CLI. */
export function checkInput<S extends Table>(table: S, input: Input<S>): void {
  for (const name of Object.keys(input)) {
    if (!(name in table)) {
      const near = Object.keys(table).find((k) => k.toLowerCase() === name.toLowerCase());
      throw new SettingError(
        `${JSON.stringify(name)} is not a setting here${near ? ` (did you mean ${ref(near)}?)` : ''}; the settings: ${Object.keys(table).join(', ')}`,
      );
    }
  }
  const given = (k: string) => input[k] !== undefined;
  for (const [name, s] of Object.entries(table)) {
    if (!given(name)) continue;
    checkValue(s, input[name], ref(name));
    for (const c of s.conflicts ?? [])
      if (given(c.with)) throw new SettingError(`${ref(name)} and ${ref(c.with)} conflict: ${c.why}`);
  }
}

/** Why a given setting does not apply under these values, or null when it does. */
function notApplying(name: string, r: Requires, values: Record<string, unknown>): string | null {
  if ('given' in r) {
    return r.given.some((k) => hasValue(values[k]))
      ? null
      : `${ref(name)} applies only with ${r.given.map(ref).join(' or ')}; give ${r.given.length > 1 ? 'one' : 'it'}`;
  }
  if ('absent' in r)
    return hasValue(values[r.absent]) ? `${ref(name)} does not apply with ${ref(r.absent)}: ${r.why}` : null;
  const [list, item] = r.includes;
  const v = values[list];
  return Array.isArray(v) && v.includes(item)
    ? null
    : `${ref(name)} applies to ${item} in ${ref(list)}; add ${item} to ${ref(list)}`;
}

/** Whether a setting applies under the resolved values (a setting that does not is left out of config.json). */
export function applies(table: Table, name: string, values: Record<string, unknown>): boolean {
  const r = table[name].requires;
  return !r || notApplying(name, r, values) === null;
}

/** Why `by` excludes a value of `name`: the two conflict, or `by` applies only without `name`; null when it does not. */
function excludes(table: Table, by: string, name: string): string | null {
  const c = table[by].conflicts?.find((x) => x.with === name) ?? table[name].conflicts?.find((x) => x.with === by);
  if (c) return c.why;
  const r = table[by].requires;
  return r && 'absent' in r && r.absent === name ? r.why : null;
}

/** An esr_defaults.json that sets two settings which exclude each other (a boost and a calibration setting) is refused. */
function checkFile(table: Table, file: SaeDefaults): void {
  const set = Object.keys(table).filter((n) => table[n].sae && hasValue(file.values[snakeOf(n)]));
  for (const a of set)
    for (const b of set) {
      const why = a === b ? null : excludes(table, a, b);
      if (why)
        throw new SettingError(
          `${file.file}: ${snakeOf(a)} and ${snakeOf(b)} cannot both be set (${why}); keep one of them in the file`,
        );
    }
}

/**
 * The layered merge: explicit > the SAE's esr_defaults.json > the shipped model's overrides > defaults, each
 * value with its origin. Explicit values are checked first (checkInput), as are the file's (and the file
 * against itself); an explicit setting that does not apply under the result is refused. A lower layer's value
 * that an explicit setting excludes is set aside for the default (an explicit --calibrate over a file's
 * boost), and listed in `setAside`.
 */
export function resolveSettings<S extends Table>(
  table: S,
  input: Input<S>,
  sources: Sources = NO_SOURCES,
): Resolved<S> {
  checkInput(table, input);
  if (sources.sae) checkFile(table, sources.sae);
  const values: Record<string, unknown> = {};
  const origins: Record<string, Origin> = {};
  const setAside: SetAside[] = [];
  const given = Object.keys(input).filter((k) => input[k] !== undefined);
  for (const [name, s] of Object.entries(table)) {
    const fromFile = s.sae ? sources.sae?.values[snakeOf(name)] : undefined;
    const lower: [Origin, unknown] | null =
      input[name] !== undefined
        ? null
        : hasValue(fromFile)
          ? ['esr_defaults.json', fileValue(s, name, fromFile, sources.sae!)]
          : sources.shipped && s.shipped !== undefined
            ? ['shipped model', s.shipped]
            : null;
    const by = lower && given.find((g) => excludes(table, g, name) !== null);
    if (input[name] !== undefined) {
      values[name] = input[name];
      origins[name] = 'explicit';
    } else if (lower && !by) {
      [origins[name], values[name]] = lower;
    } else {
      if (lower && by) setAside.push({ name, origin: lower[0], value: lower[1], by });
      values[name] = s.default;
      origins[name] = 'default';
    }
  }
  for (const [name, s] of Object.entries(table)) {
    if (origins[name] !== 'explicit' || !s.requires) continue;
    const why = notApplying(name, s.requires, values);
    if (why) throw new SettingError(why);
  }
  return { values: values as Values<S>, origins: origins as Origins<S>, setAside };
}

/** A setting that must have a value here: refused, naming the setting and what to give, when it has none. */
export function required<S extends Table, K extends keyof S & string>(
  r: Resolved<S>,
  name: K,
  why: string,
): Exclude<Values<S>[K], undefined | null> {
  const v = r.values[name];
  if (v === undefined || v === null) throw new SettingError(`give ${ref(name)}: ${why}`);
  return v as Exclude<Values<S>[K], undefined | null>;
}

/**
 * How a resolved value is named in a message: `‹steerLayer› 7` when given, else where it came from — so a
 * message never names a flag the user did not give. `actual` is the value in use (a null default's).
 */
export function describeValue<S extends Table>(
  table: S,
  r: Resolved<S>,
  name: keyof S & string,
  sources: Sources,
  actual: unknown = r.values[name],
): string {
  const v = shown(actual);
  switch (r.origins[name]) {
    case 'explicit':
      return `${ref(name)} ${v}`;
    case 'esr_defaults.json':
      return `${snakeOf(name)} ${v} (${sources.sae?.file}; ${ref(name)} overrides it)`;
    case 'shipped model':
      return `${v} (the shipped model's ${ref(name)})`;
    default:
      return r.values[name] === null
        ? `${v} (${table[name].auto ?? 'automatic'}, as ${ref(name)} was not given)`
        : `${v} (the default ${ref(name)})`;
  }
}

/** The settings whose value came from `origin`, each as `name value` (names as ‹refs›, or esr_defaults.json keys). */
export function fromOrigin<S extends Table>(table: S, r: Resolved<S>, origin: Origin): string[] {
  return Object.keys(table)
    .filter((name) => r.origins[name] === origin)
    .map((name) => {
      const v = showValue(table[name], (r.values as Record<string, unknown>)[name]);
      return origin === 'esr_defaults.json' ? `${snakeOf(name)} ${v}` : `${ref(name)} ${v}`;
    });
}

const pathOf = (key: string) => key.split('.');

/** Whether `o` records `key`: the key is there, or a prefix of it holds a value of the stage's own form (null, a list, a value). */
function has(o: Record<string, unknown>, key: string): boolean {
  let at: unknown = o;
  for (const part of pathOf(key)) {
    if (typeof at !== 'object' || at === null || Array.isArray(at)) return true;
    if (!(part in at)) return false;
    at = (at as Record<string, unknown>)[part];
  }
  return true;
}

function put(o: Record<string, unknown>, key: string, v: unknown): void {
  const parts = pathOf(key);
  let at = o;
  for (const part of parts.slice(0, -1)) {
    const next = at[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) at[part] = {};
    at = at[part] as Record<string, unknown>;
  }
  at[parts[parts.length - 1]] = v;
}

/**
 * config.json's record of the settings: `base` (a stage's own structure, kept as it is) with every applying
 * setting that has a value and a key placed at its key when `base` does not hold that key yet — so a new
 * setting is recorded (and part of the run's identity) without further code.
 */
export function recordSettings<S extends Table>(
  table: S,
  values: Values<S>,
  base: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const [name, s] of Object.entries(table)) {
    const v = (values as Record<string, unknown>)[name];
    if (s.key === null || v === undefined || !applies(table, name, values) || has(base, s.key)) continue;
    put(base, s.key, v);
  }
  return base;
}

/** The origin of every setting, for config.json and --dry-run. */
export function originsRecord<S extends Table>(r: Resolved<S>): Record<string, Origin> {
  return { ...r.origins };
}

/** The part of a command's input that is a stage's (its table's settings only). */
export function inputFor<S extends Table>(table: S, input: Readonly<Record<string, unknown>>): Input<S> {
  return Object.fromEntries(Object.entries(input).filter(([k]) => k in table)) as Input<S>;
}
