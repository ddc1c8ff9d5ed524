// Settings tables on the command line: one flag per setting (its name in kebab case), the --help text
// from the table, and the parsed arguments turned into the library's input (checked there, so a notebook
// and the CLI get the same errors; the CLI shows them with flags).
import type { Argv } from 'yargs';
import { flagOf, renderRefs } from '../errors.ts';
import { type CliArgs, type Input, showValue, type Table } from '../settings/table.ts';

/** The flags of a table on a yargs parser; no yargs defaults, so a flag not given stays undefined (origin: default). */
export function settingOptions<T, S extends Table>(y: Argv<T>, table: S): Argv<T & CliArgs<S>> {
  let out: Argv<T> = y;
  for (const [name, s] of Object.entries(table)) {
    const choices = 'choices' in s.cli ? ` (${s.cli.choices.join(' | ')})` : '';
    const d = s.default === undefined ? '' : showValue(s, s.default);
    const shipped = s.shipped === undefined ? '' : `${d ? '; ' : ''}shipped model: ${showValue(s, s.shipped)}`;
    out = out.option(flagOf(name).slice(2), {
      type: s.cli.type,
      ...('array' in s.cli ? { array: true } : {}),
      describe: renderRefs(`${s.doc}${choices}`, flagOf),
      ...(d || shipped ? { defaultDescription: renderRefs(`${d}${shipped}`, flagOf) } : {}),
      ...(s.hidden ? { hidden: true } : {}),
    });
  }
  return out as Argv<T & CliArgs<S>>;
}

/** The given flags of a table as the library's input: each parsed from its command-line form. */
export function cliInput<S extends Table>(table: S, argv: CliArgs<S>): Input<S> {
  const input: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(table)) {
    const v = (argv as Record<string, unknown>)[name];
    if (v !== undefined) input[name] = s.parse ? s.parse(v, name) : v;
  }
  return input as Input<S>;
}

/** Tables joined for one command; a name declared twice must be the same declaration. */
export function joinTables<A extends Table, B extends Table>(a: A, b: B): A & B {
  for (const name of Object.keys(b))
    if (name in a && a[name] !== b[name]) throw new Error(`setting ${name} is declared twice, differently`);
  return { ...a, ...b };
}
