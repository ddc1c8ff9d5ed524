// Stores that two writers, a full disk or a hostile judge damaged: duplicate trial ids, a line too long to be
// a string, a raw judge output of megabytes, scores outside 0–100, a short write, a failed judgment judged
// again, lines of another run, malformed fields, and an activation store whose meta.json claims more
// samples than it holds.
import assert from 'node:assert/strict';
import fs, { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import { markdownTable } from '../../lib/io/markdown.ts';
import { openStore } from '../../lib/store/reader.ts';
import { ActsWriter } from '../../lib/store/writer.ts';
import {
  type AppendFs,
  appendTrial,
  MAX_LINE_BYTES,
  RAW_KEEP,
  readTrials,
  repairTornTail,
  StoreWriteError,
} from '../../lib/trials/store.ts';
import type { Trial } from '../../lib/trials/types.ts';
import { assertExit, runCli } from '../support/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'store-'));

const trial = (id: string, score = 50, response = 'Bread needs flour.'): Trial => ({
  id,
  feature: 3,
  feature_label: null,
  prompt: 'Explain bread.',
  seed: 0,
  condition: 'baseline',
  boost: 1,
  interventions: [],
  response,
  judge: { id: 'heuristic', attempts: [{ text: response, score }], raw: null, error: null },
  error: null,
  provenance: { run: id },
});

function store(name: string, lines: string[]): string {
  const path = join(tmp, name);
  writeFileSync(path, lines.map((l) => `${l}\n`).join(''));
  return path;
}

test('exact duplicate ids (a record written twice) are read once, with a warning', () => {
  const a = trial('t1');
  const b = trial('t2');
  const path = store('dup.jsonl', [
    JSON.stringify(a),
    JSON.stringify(b),
    JSON.stringify(a),
    JSON.stringify({ ...a, provenance: { run: 'other run' } }),
  ]);
  const warnings: string[] = [];
  const trials = readTrials(path, { warn: (m) => warnings.push(m) });
  assert.deepEqual(
    trials.map((t) => t.id),
    ['t1', 't2'],
  );
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /2 duplicate trial records \(same id, same content\) read once/);
});

test('conflicting duplicate ids are refused, naming both lines', () => {
  const path = store('conflict.jsonl', [
    JSON.stringify(trial('t1', 40)),
    JSON.stringify(trial('t2')),
    JSON.stringify(trial('t1', 90)),
  ]);
  assert.throws(
    () => readTrials(path),
    (e: Error) =>
      e instanceof InputError &&
      /conflict\.jsonl:3: trial id "t1" was already stored at line 1 with different content/.test(e.message),
  );
});

test('scores outside 0–100 are refused by the reader and by metrics (exit 2)', () => {
  const path = store('score.jsonl', [JSON.stringify(trial('t1')), JSON.stringify(trial('t2', 150))]);
  assert.throws(
    () => readTrials(path),
    /score\.jsonl:2: judge\.attempts\[0\]\.score: expected a number in 0–100 or null, found 150/,
  );
  const r = runCli(['metrics', '--trials', path, '--resamples', '100']);
  assertExit(r, 2, /found 150/);
});

test('a raw judge output of megabytes is stored as its first 64 KiB, its length and sha256', () => {
  const path = join(tmp, 'raw.jsonl');
  const raw = 'x'.repeat(3 << 20);
  appendTrial(path, { ...trial('t1'), judge: { ...trial('t1').judge!, raw } });
  const [t] = readTrials(path);
  assert.ok(t.judge!.raw!.length < RAW_KEEP + 200);
  assert.match(t.judge!.raw!, /cut at 65536 of 3145728 characters; sha256 [0-9a-f]{64}\]$/);
});

test('a line longer than the limit is skipped with a warning and never breaks the store; torn tails still repair', () => {
  const path = join(tmp, 'huge.jsonl');
  writeFileSync(path, `${JSON.stringify(trial('t1'))}\n`);
  // a judge record far beyond any stored limit (as an old writer could leave it): streamed past, not parsed
  const huge = JSON.stringify({ ...trial('t2'), judge: { ...trial('t2').judge!, raw: '' } }).replace(
    '"raw":""',
    `"raw":"${'y'.repeat(MAX_LINE_BYTES + 10)}"`,
  );
  appendFileSync(path, `${huge}\n`);
  appendFileSync(path, `${JSON.stringify(trial('t3'))}\n{"id":"t4","torn`);
  const warnings: string[] = [];
  assert.deepEqual(
    readTrials(path, { warn: (m) => warnings.push(m) }).map((t) => t.id),
    ['t1', 't3'],
  );
  assert.match(warnings[0], /huge\.jsonl:2: line longer than 64 MiB skipped/);
  repairTornTail(path);
  assert.ok(readFileSync(path).at(-1) === 10);
  assert.equal(readFileSync(`${path}.torn`, 'utf8'), '{"id":"t4","torn\n');
});

test('an activation store whose meta.json claims more samples than it holds is refused', async () => {
  const dir = join(tmp, 'short.acts');
  const w = new ActsWriter(dir);
  const row = (id: string) => ({
    id,
    condition: 'on_topic',
    prompt_id: id,
    response_id: null,
    n_tokens: 3,
    span_start: 1,
    span_end: 3,
  });
  w.append([row('a'), row('b')], {
    sample: Int32Array.of(0, 1),
    token: Int32Array.of(1, 2),
    latent: Int32Array.of(4, 5),
    value: Float32Array.of(0.5, 1.5),
  });
  await w.finalize({ d_sae: 8 } as never);
  assert.equal(openStore(dir).samples.n, 2);
  const metaPath = join(dir, 'meta.json');
  writeFileSync(metaPath, JSON.stringify({ ...JSON.parse(readFileSync(metaPath, 'utf8')), n_samples: 624 }));
  assert.throws(
    () => openStore(dir),
    (e: Error) =>
      e instanceof InputError && /claims 624 samples but samples\.arrow holds 2: the store is damaged/.test(e.message),
  );
});

test('summary tables escape user labels: no split rows, no HTML, no control bytes', () => {
  const table = markdownTable(['latent', 'label'], [['7', 'evil | label\nwith <script>alert(1)</script>\u0007 bell']]);
  const lines = table.split('\n');
  assert.equal(lines.length, 3);
  assert.equal(lines[2], '| 7 | evil \\| label with &lt;script&gt;alert(1)&lt;/script&gt; bell |');
});

test('a full disk mid-append: the short write is undone (the store ends at its last complete line), exit 1, and appends resume', () => {
  const path = join(tmp, 'disk-full.jsonl');
  appendTrial(path, trial('t1'));
  const before = readFileSync(path);
  // the disk fills after 10 bytes of the next record: one short write, then ENOSPC
  let calls = 0;
  const full: AppendFs = {
    ...fs,
    writeSync: ((fd: number, buf: Uint8Array, off: number, len: number) => {
      if (calls++ === 0) return fs.writeSync(fd, buf, off, Math.min(len, 10));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }) as AppendFs['writeSync'],
  };
  assert.throws(
    () => appendTrial(path, trial('t2'), full),
    (e: Error) =>
      e instanceof StoreWriteError &&
      !(e instanceof InputError) &&
      /could not store trial "t2" \(ENOSPC: .*\); the store was cut back to its last complete line\. Free some space and rerun/.test(
        e.message,
      ),
  );
  assert.deepEqual(readFileSync(path), before, 'the 10 bytes written were cut off');
  // a write that reports no progress at all is an error too, never a loop
  const stuck: AppendFs = { ...fs, writeSync: (() => 0) as unknown as AppendFs['writeSync'] };
  assert.throws(() => appendTrial(path, trial('t2'), stuck), StoreWriteError);
  assert.deepEqual(readFileSync(path), before);
  appendTrial(path, trial('t2')); // space is back
  assert.deepEqual(
    readTrials(path).map((t) => t.id),
    ['t1', 't2'],
  );
});

test('a trial whose judging failed is replaced by a later judgment of the same response; other rewrites are refused', () => {
  const failed: Trial = { ...trial('t1'), judge: { id: 'openai:m', attempts: [], raw: null, error: 'openai:m: 500' } };
  const judged: Trial = { ...trial('t1'), provenance: { run: 't1', rejudged: true } };
  const path = store('rejudged.jsonl', [JSON.stringify(failed), JSON.stringify(trial('t2')), JSON.stringify(judged)]);
  const trials = readTrials(path);
  assert.deepEqual(
    trials.map((t) => [t.id, t.judge?.error ?? null]),
    [
      ['t1', null],
      ['t2', null],
    ],
  );
  // a different response is not a re-judgment; nor may a good judgment be replaced
  const otherResponse = { ...judged, response: 'Something else.' };
  assert.throws(
    () => readTrials(store('rejudged-bad.jsonl', [JSON.stringify(failed), JSON.stringify(otherResponse)])),
    (e: Error) =>
      e instanceof InputError &&
      /:2: trial id "t1" was already stored at line 1 with different content/.test(e.message),
  );
  assert.throws(
    () => readTrials(store('rejudged-good.jsonl', [JSON.stringify(judged), JSON.stringify(failed)])),
    /already stored at line 1 with different content/,
  );
});

test("a run's store refuses lines written by another run (provenance.run), naming the line", () => {
  const mine = { ...trial('t1'), provenance: { run: 'abc' } };
  const copied = { ...trial('t2'), provenance: { run: 'def' } };
  const path = store('copied.jsonl', [JSON.stringify(mine), JSON.stringify(copied)]);
  assert.throws(
    () => readTrials(path, { run: 'abc' }),
    (e: Error) =>
      e instanceof InputError &&
      /copied\.jsonl:2: trial "t2" was written by another run \(provenance\.run "def", this run's is "abc"\)/.test(
        e.message,
      ),
  );
  assert.equal(readTrials(path).length, 2, 'outside a run (analyze metrics) any store is read');
});

test('malformed trial fields are refused as bad input naming the field (judge.attempts "x", a numeric condition)', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { judge: { id: 'h', attempts: 'x', raw: null, error: null } },
      /:1: judge\.attempts: expected a list of \{text, score\}, found "x"/,
    ],
    [{ judge: 'yes' }, /:1: field judge: expected an object or null, found "yes"/],
    [
      { judge: { id: 'h', attempts: [7], raw: null, error: null } },
      /judge\.attempts\[0\]: expected \{text, score\}, found 7/,
    ],
    [{ judge: { id: 'h', attempts: [], raw: null, error: 5 } }, /judge\.error: expected a string or null, found 5/],
    [{ condition: 3 }, /:1: field condition: expected a string, found 3/],
    [{ feature: '3' }, /:1: field feature: expected a number, found "3"/],
  ];
  for (const [change, pattern] of cases) {
    const path = store('malformed.jsonl', [JSON.stringify({ ...trial('t1'), ...change })]);
    assert.throws(
      () => readTrials(path),
      (e: Error) => e instanceof InputError && pattern.test(e.message),
      JSON.stringify(change),
    );
  }
});
