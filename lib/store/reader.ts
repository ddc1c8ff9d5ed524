// Reader of an activation store: samples as columns, meta, and code rows streamed batch by batch.
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RecordBatchReader, type Table, tableFromIPC } from 'apache-arrow';
import { InputError } from '../errors.ts';
import { type CodeBatch, CODES_FILE, META_FILE, PARTS_DIR, SAMPLES_FILE, type StoreMeta } from './schema.ts';

export interface StoreSamples {
  n: number;
  sample: Int32Array;
  id: string[];
  condition: string[];
  prompt_id: string[];
  /** null where the store has none (e.g. a sample that is not a prompt/response pair). */
  response_id: (string | null)[];
  n_tokens: Int32Array;
  /** [start, end) per named span: `response` (span_start/span_end), `all` ([0, n_tokens)), and each extra span; -1 where missing. */
  spans: Record<string, { start: Int32Array; end: Int32Array }>;
}

export interface ActsStore {
  dir: string;
  meta: StoreMeta;
  samples: StoreSamples;
  /** Code rows, batch by batch, with `row` = the sample's row in samples.arrow. */
  codeBatches(): AsyncGenerator<CodeBatch>;
}

const REQUIRED = ['sample', 'id', 'condition', 'prompt_id', 'response_id', 'n_tokens', 'span_start', 'span_end'];

export function openStore(dir: string): ActsStore {
  if (!existsSync(join(dir, META_FILE))) {
    const hint = existsSync(join(dir, PARTS_DIR)) ? ' (the capture has not been finalised: rerun it to finish)' : '';
    throw new InputError(`${dir}: not an activation store: ${META_FILE} missing${hint}`);
  }
  const meta = JSON.parse(readFileSync(join(dir, META_FILE), 'utf8')) as StoreMeta;
  if (!Number.isInteger(meta.d_sae) || meta.d_sae <= 0)
    throw new InputError(`${join(dir, META_FILE)}: d_sae: expected a positive integer, found ${meta.d_sae}`);
  const samples = readSamples(join(dir, SAMPLES_FILE));
  const claimed = (meta as { n_samples?: unknown }).n_samples;
  if (claimed !== undefined && claimed !== samples.n) {
    throw new InputError(
      `${dir}: ${META_FILE} claims ${claimed} samples but ${SAMPLES_FILE} holds ${samples.n}: the store is damaged (two writers?); capture again into a new directory`,
    );
  }
  const rowOf = new Map<number, number>();
  samples.sample.forEach((s, r) => rowOf.set(s, r));
  const codesPath = join(dir, CODES_FILE);
  if (!existsSync(codesPath)) throw new InputError(`${codesPath}: missing`);
  return {
    dir,
    meta,
    samples,
    async *codeBatches() {
      const reader = await RecordBatchReader.from(createReadStream(codesPath));
      for await (const batch of reader) {
        const col = (name: string) => {
          const v = batch.getChild(name);
          if (!v) throw new InputError(`${codesPath}: column ${name} missing`);
          return v.toArray();
        };
        const sample = col('sample') as Int32Array;
        const row = new Int32Array(sample.length);
        for (let i = 0; i < sample.length; i++) {
          const r = rowOf.get(sample[i]);
          if (r === undefined)
            throw new InputError(`${codesPath}: code row names sample ${sample[i]}, which samples.arrow does not list`);
          row[i] = r;
        }
        yield {
          row,
          token: col('token') as Int32Array,
          latent: col('latent') as Int32Array,
          value: col('value') as Float32Array,
        };
      }
    },
  };
}

function readSamples(path: string): StoreSamples {
  if (!existsSync(path)) throw new InputError(`${path}: missing`);
  const t: Table = tableFromIPC(readFileSync(path));
  for (const c of REQUIRED) if (!t.getChild(c)) throw new InputError(`${path}: column ${c} missing`);
  const ints = (name: string): Int32Array => Int32Array.from(t.getChild(name)!, (v) => (v === null ? -1 : Number(v)));
  const strs = (name: string): string[] => Array.from(t.getChild(name)!, (v) => String(v));
  const n_tokens = ints('n_tokens');
  const spans: StoreSamples['spans'] = {
    response: { start: ints('span_start'), end: ints('span_end') },
    all: { start: new Int32Array(t.numRows), end: n_tokens },
  };
  for (const f of t.schema.fields) {
    const m = /^(.+)_start$/.exec(f.name);
    if (m && m[1] !== 'span' && t.getChild(`${m[1]}_end`))
      spans[m[1]] = { start: ints(f.name), end: ints(`${m[1]}_end`) };
  }
  return {
    n: t.numRows,
    sample: ints('sample'),
    id: strs('id'),
    condition: strs('condition'),
    prompt_id: strs('prompt_id'),
    response_id: Array.from(t.getChild('response_id')!, (v) => (v === null ? null : String(v))),
    n_tokens,
    spans,
  };
}
