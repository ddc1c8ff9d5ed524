// Streaming, resumable writer of an activation store.
//
// Design: each append writes one *part* — `parts/NNNNNN.codes.arrow`, then `parts/NNNNNN.samples.arrow`,
// each atomically (temp + rename). The samples file is the commit marker: a part without it was cut
// short by a kill and is deleted on reopen. Reopening lists the committed parts, so a capture resumes
// by skipping sample ids already written. `finalize` streams every part's record batches into
// codes.arrow and samples.arrow (one part in memory at a time), writes meta.json last (its presence
// marks a complete store) and removes parts/. A kill during finalize leaves the parts, so finalize
// simply runs again.
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  Int32,
  makeTable,
  RecordBatchFileWriter,
  Table,
  tableFromIPC,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { removeStaleTemps, tempPathFor, writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import {
  CODES_FILE,
  type CodeRows,
  META_FILE,
  PARTS_DIR,
  type SampleRow,
  SAMPLES_FILE,
  type StoreMeta,
} from './schema.ts';

const partName = (k: number, kind: 'codes' | 'samples'): string => `${String(k).padStart(6, '0')}.${kind}.arrow`;

export class ActsWriter {
  private nextPart = 0;
  private nextSample = 0;
  private readonly done = new Set<string>();

  /** Opens (or resumes) a store under construction; `extraSpans` names the episode spans every sample carries. */
  constructor(
    readonly dir: string,
    readonly extraSpans: string[] = [],
  ) {
    const parts = join(dir, PARTS_DIR);
    mkdirSync(parts, { recursive: true });
    removeStaleTemps(parts); // a part's temp file cut short by a kill, when the store was written unlocked
    const committed = readdirSync(parts)
      .filter((f) => f.endsWith('.samples.arrow'))
      .sort();
    for (const f of readdirSync(parts).filter((f) => f.endsWith('.codes.arrow'))) {
      if (!existsSync(join(parts, f.replace('.codes.', '.samples.')))) rmSync(join(parts, f));
    }
    for (const f of committed) {
      const t = tableFromIPC(readFileSync(join(parts, f)));
      for (const id of t.getChild('id')!) this.done.add(id as string);
      this.nextSample += t.numRows;
      this.nextPart = Math.max(this.nextPart, Number(f.slice(0, 6)) + 1);
    }
  }

  /** Sample ids already committed (a resumed capture skips these). */
  has(id: string): boolean {
    return this.done.has(id);
  }

  get samplesWritten(): number {
    return this.nextSample;
  }

  /**
   * Commits a batch of samples and their code rows (rows should be grouped by sample). `at` places it in a
   * larger plan (one shard's batches of a capture): its part number and the global index of its first
   * sample, so the parts of every shard, put side by side, are the parts of the unsharded store.
   */
  append(samples: SampleRow[], codes: CodeRows, at?: { part: number; firstSample: number }): void {
    if (at) {
      this.nextPart = at.part;
      this.nextSample = at.firstSample;
    }
    const n = codes.sample.length;
    for (const arr of [codes.token, codes.latent, codes.value]) {
      if (arr.length !== n) throw new RangeError('append: code columns differ in length');
    }
    const sample = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const s = codes.sample[i];
      if (s < 0 || s >= samples.length)
        throw new RangeError(`append: code row ${i} names sample ${s} of a batch of ${samples.length}`);
      sample[i] = this.nextSample + s;
    }
    for (const s of samples)
      if (this.done.has(s.id)) throw new RangeError(`append: sample ${s.id} was already written`);
    const parts = join(this.dir, PARTS_DIR);
    const codesTable = makeTable({
      sample,
      token: Int32Array.from(codes.token),
      latent: Int32Array.from(codes.latent),
      value: Float32Array.from(codes.value),
    });
    writeFileAtomic(join(parts, partName(this.nextPart, 'codes')), tableToIPC(codesTable, 'file'));
    writeFileAtomic(join(parts, partName(this.nextPart, 'samples')), tableToIPC(this.samplesTable(samples), 'file'));
    samples.forEach((s) => this.done.add(s.id));
    this.nextSample += samples.length;
    this.nextPart++;
  }

  private samplesTable(samples: SampleRow[]): Table {
    const int = (f: (s: SampleRow) => number): Vector => vectorFromArray(Int32Array.from(samples, f));
    const str = (f: (s: SampleRow) => string | null) => vectorFromArray(samples.map(f), new Utf8());
    const columns: Record<string, Vector> = {
      sample: vectorFromArray(Int32Array.from(samples, (_, i) => this.nextSample + i)),
      id: str((s) => s.id),
      condition: str((s) => s.condition),
      prompt_id: str((s) => s.prompt_id),
      response_id: str((s) => s.response_id),
      n_tokens: int((s) => s.n_tokens),
      span_start: int((s) => s.span_start),
      span_end: int((s) => s.span_end),
    };
    for (const name of this.extraSpans) {
      const span = (s: SampleRow) => s.spans?.[name] ?? null;
      columns[`${name}_start`] = vectorFromArray(
        samples.map((s) => span(s)?.[0] ?? null),
        new Int32(),
      );
      columns[`${name}_end`] = vectorFromArray(
        samples.map((s) => span(s)?.[1] ?? null),
        new Int32(),
      );
    }
    return new Table(columns);
  }

  /** Streams the parts into the final files, then writes meta.json and removes parts/. */
  async finalize(meta: StoreMeta): Promise<void> {
    const parts = join(this.dir, PARTS_DIR);
    if (this.nextPart === 0) throw new RangeError(`${this.dir}: nothing was written to the store`);
    for (const kind of ['codes', 'samples'] as const) {
      const files = readdirSync(parts)
        .filter((f) => f.endsWith(`.${kind}.arrow`))
        .sort();
      const target = join(this.dir, kind === 'codes' ? CODES_FILE : SAMPLES_FILE);
      await concatIpc(
        files.map((f) => join(parts, f)),
        target,
      );
    }
    writeJsonAtomic(join(this.dir, META_FILE), {
      ...meta,
      n_samples: this.nextSample,
      storage: 'arrow-ipc-file; rows grouped by sample',
    });
    rmSync(parts, { recursive: true, force: true });
  }
}

async function concatIpc(files: string[], target: string): Promise<void> {
  const tmp = tempPathFor(target);
  const out = createWriteStream(tmp);
  const finished = once(out, 'finish');
  const writer = new RecordBatchFileWriter();
  writer.toNodeStream().pipe(out);
  try {
    for (const f of files) {
      for (const batch of tableFromIPC(readFileSync(f)).batches) writer.write(batch);
      if (out.writableNeedDrain) await once(out, 'drain');
    }
    writer.finish();
    await finished;
    renameSync(tmp, target);
  } catch (err) {
    out.destroy();
    rmSync(tmp, { force: true }); // a failed finalize leaves no temp file (a kill's leftovers go at the next run)
    throw err;
  }
}
