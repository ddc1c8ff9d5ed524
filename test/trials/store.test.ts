// Stores that two writers or a hostile judge damaged: duplicate trial ids, a line too long to be a string,
// a raw judge output of megabytes, scores outside 0–100, and an activation store whose meta.json claims
// more samples than it holds.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InputError } from '../../lib/errors.ts';
import { markdownTable } from '../../lib/io/markdown.ts';
import { openStore } from '../../lib/store/reader.ts';
import { ActsWriter } from '../../lib/store/writer.ts';
import { appendTrial, MAX_LINE_BYTES, RAW_KEEP, readTrials, repairTornTail } from '../../lib/trials/store.ts';
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
  writeFileSync(path, lines.map((l) => l + '\n').join(''));
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
  writeFileSync(path, JSON.stringify(trial('t1')) + '\n');
  // a judge record far beyond any stored limit (as an old writer could leave it): streamed past, not parsed
  const huge = JSON.stringify({ ...trial('t2'), judge: { ...trial('t2').judge!, raw: '' } }).replace(
    '"raw":""',
    `"raw":"${'y'.repeat(MAX_LINE_BYTES + 10)}"`,
  );
  appendFileSync(path, huge + '\n');
  appendFileSync(path, JSON.stringify(trial('t3')) + '\n' + '{"id":"t4","torn');
  const warnings: string[] = [];
  assert.deepEqual(
    readTrials(path, { warn: (m) => warnings.push(m) }).map((t) => t.id),
    ['t1', 't3'],
  );
  assert.match(warnings[0], /huge\.jsonl:2: line longer than 64 MiB skipped/);
  repairTornTail(path);
  assert.ok(readFileSync(path).at(-1) === 10);
  assert.equal(readFileSync(path + '.torn', 'utf8'), '{"id":"t4","torn\n');
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
