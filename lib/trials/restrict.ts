// Restricting metrics to trials by their per-trial records: `generated_tokens<96`, `finish_reason=eos`,
// `well_formed_share>=0.8`, `degraded=false`. Conditions are ANDed; a trial lacking a field it is asked
// about is an input error (a store written before the field was recorded), except `degraded`, which is
// the paper's filter on the response and is computed when absent.
import { InputError } from '../errors.ts';
import { isDegraded } from './degraded.ts';
import type { Trial } from './types.ts';

const FIELDS = {
  generated_tokens: 'number',
  finish_reason: 'string',
  well_formed_share: 'number',
  degraded: 'boolean',
} as const;
type Field = keyof typeof FIELDS;
const OPS = ['<=', '>=', '!=', '=', '<', '>'] as const;
type Op = (typeof OPS)[number];

export interface Restriction {
  text: string;
  field: Field;
  op: Op;
  value: number | string | boolean;
}

export const RESTRICT_SYNTAX = `FIELD OP VALUE with FIELD one of ${Object.keys(FIELDS).join(', ')} and OP one of =, !=, <, <=, >, >= (numbers only for the order comparisons)`;

export function parseRestriction(text: string): Restriction {
  const m = /^\s*([a-z_]+)\s*(<=|>=|!=|=|<|>)\s*(\S+)\s*$/.exec(text);
  const bad = (why: string): never => {
    throw new InputError(`--where ${JSON.stringify(text)}: ${why} (expected ${RESTRICT_SYNTAX})`);
  };
  if (!m) bad('not a condition');
  const [, name, op, raw] = m!;
  if (!(name in FIELDS)) bad(`unknown field ${name}`);
  const field = name as Field;
  const kind = FIELDS[field];
  let value: number | string | boolean = raw;
  if (kind === 'number') {
    value = Number(raw);
    if (!Number.isFinite(value)) bad(`${field} compares with a number, found ${raw}`);
  } else {
    if (op !== '=' && op !== '!=') bad(`${field} takes = or != only`);
    if (kind === 'boolean') {
      if (raw !== 'true' && raw !== 'false') bad(`${field} is true or false, found ${raw}`);
      value = raw === 'true';
    } else if (field === 'finish_reason' && raw !== 'eos' && raw !== 'length')
      bad(`finish_reason is eos or length, found ${raw}`);
  }
  return { text: text.trim(), field, op: op as Op, value };
}

function recorded(t: Trial, field: Field): number | string | boolean {
  if (field === 'degraded') return t.degraded ?? isDegraded(t.response);
  const v = t[field];
  if (v === undefined || v === null)
    throw new InputError(
      `trial ${t.id}: no ${field} (${field === 'well_formed_share' ? 'its judge does not know the language: grade with --judge organism' : 'the store was written before per-trial records; regenerate it'}), so --where cannot restrict by it`,
    );
  return v;
}

function holds(r: Restriction, v: number | string | boolean): boolean {
  switch (r.op) {
    case '=':
      return v === r.value;
    case '!=':
      return v !== r.value;
    case '<':
      return (v as number) < (r.value as number);
    case '<=':
      return (v as number) <= (r.value as number);
    case '>':
      return (v as number) > (r.value as number);
    case '>=':
      return (v as number) >= (r.value as number);
  }
}

/** The trials that satisfy every restriction. */
export function restrictTrials(trials: Trial[], restrictions: Restriction[]): Trial[] {
  return trials.filter((t) => restrictions.every((r) => holds(r, recorded(t, r.field))));
}
