// ablate runs that must always be finishable, on the tiny fixture model: a disk that fills mid-append
// (a preload plays it), a judge outage (a fake server answering 500) then recovery, runs refused on their
// inputs leaving nothing that blocks the corrected rerun, another run's trials.jsonl copied in, and a
// judge that echoes the API key in every field leaving no trace of it anywhere.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readTrials } from '../../lib/trials/store.ts';
import { startFakeLlm, type Step } from '../fixtures/judge/fake-llm-server.ts';
import { ANALYZE, assertExit, ROOT, runCli, runCliInProcess, runCommand, startCli, TSX } from '../support/cli.ts';
import { FIXTURE_SESSION_ARGS } from '../support/fixture-args.ts';
import { SHORT_WRITE_ENV } from '../support/short-write.ts';

const tmp = mkdtempSync(join(tmpdir(), 'ablate-reliability-'));
const prompts = join(tmp, 'prompts.txt');
writeFileSync(prompts, 'Explain how to bake bread.\nExplain how tides work.\nExplain how to tie a bowline.\n');
const features = join(tmp, 'features.csv');
writeFileSync(features, 'index,label\n3,three\n17\n40,forty\n');
const KEY = 'sk-ablate-reliability-5e0c9a71';

/** Three trials (3 features × 1 draw, baseline only) at a fixed boost. */
const args = (out: string, ...more: string[]) => [
  'ablate',
  ...FIXTURE_SESSION_ARGS,
  '--prompts',
  prompts,
  '--latents',
  '5,9',
  '--features',
  features,
  '--trials-per-feature',
  '1',
  '--boost',
  '3',
  '--conditions',
  'baseline',
  '--max-tokens',
  '8',
  '--resamples',
  '100',
  '--out',
  out,
  ...more,
];
const heuristic = (out: string, ...more: string[]) => args(out, '--judge', 'heuristic', ...more);

/** Every line of a trial store parses, and the file ends with its last line's newline. */
function assertWholeLines(path: string): number {
  const text = readFileSync(path, 'utf8');
  assert.ok(text === '' || text.endsWith('\n'), `${path} ends inside a record`);
  const lines = text.split('\n').filter(Boolean);
  for (const line of lines) JSON.parse(line);
  return lines.length;
}

test('a full disk mid-append: a short write is completed; short then ENOSPC stops (exit 1) at the last whole line and the rerun finishes', () => {
  const withDisk = (out: string, spec: { nth: number; fail: number }) =>
    runCommand(
      process.execPath,
      ['--import', TSX, '--import', join(ROOT, 'test/support/short-write.ts'), ANALYZE, ...heuristic(out)],
      {
        env: { [SHORT_WRITE_ENV]: JSON.stringify({ path: 'trials\\.jsonl$', ...spec }) },
      },
    );
  // the disk takes half of the second record, then has room again: the rest is written, nothing is lost
  const a = join(tmp, 'short');
  assertExit(withDisk(a, { nth: 2, fail: 0 }), 0);
  assert.equal(assertWholeLines(join(a, 'trials.jsonl')), 3);
  // half of the second record, then the disk is full: the run stops, the store is cut back to one record
  const b = join(tmp, 'full');
  const r = withDisk(b, { nth: 2, fail: 1 });
  assertExit(
    r,
    1,
    /could not store trial .* \(ENOSPC: .*\); the store was cut back to its last complete line\. Free some space and rerun/,
  );
  // (trials judged meanwhile may still land, each whole; the record cut short does not)
  assert.ok(assertWholeLines(join(b, 'trials.jsonl')) < 3);
  // space is back: the same command finishes the run
  assertExit(runCli(heuristic(b)), 0);
  assert.equal(assertWholeLines(join(b, 'trials.jsonl')), 3);
  assert.deepEqual(
    readTrials(join(b, 'trials.jsonl'))
      .map((t) => t.feature)
      .sort((x, y) => x - y),
    [3, 17, 40],
  );
});

test('a judge outage: failed judgments are judged again on resume (responses kept), and the run completes', async () => {
  const outage: Step[] = Array.from({ length: 10 }, () => ({ status: 500, headers: { 'x-should-retry': 'false' } }));
  const server = await startFakeLlm(outage);
  try {
    const out = join(tmp, 'outage');
    const run = () =>
      startCli(args(out, '--judge', 'openai:fake', '--judge-base-url', server.openaiUrl, '--no-judge-cache'), {
        env: { OPENAI_API_KEY: KEY },
      }).exited;
    const first = await run();
    assertExit(first, 1, /no counted trials/);
    const failed = readTrials(join(out, 'trials.jsonl'));
    assert.equal(failed.length, 3);
    assert.ok(failed.every((t) => /InternalServerError: 500/.test(t.judge?.error ?? '')));
    const seen = server.requests.length;
    server.script(Array.from({ length: 10 }, () => ({ gradeWhole: 40 })));
    const second = await run();
    assertExit(second, 0, /3 stored trials whose judging failed are judged again \(their responses kept/);
    assert.match(second.stderr, /3 of them judged now; 0 failed again/);
    assert.equal(server.requests.length - seen, 3, 'one judge request per failed trial, no new generation');
    const trials = readTrials(join(out, 'trials.jsonl'));
    assert.equal(trials.length, 3);
    assert.ok(trials.every((t) => t.judge?.error === null && t.judge.attempts[0].score === 40));
    assert.deepEqual(
      trials.map((t) => t.response),
      failed.map((t) => t.response),
    );
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    assert.equal(metrics.provenance.trials, 3);
    // a third run has nothing left to judge
    const third = await run();
    assertExit(third, 0);
    assert.doesNotMatch(third.stderr, /judged again/);
  } finally {
    await server.close();
  }
});

test('a judge outage during calibration: nothing is cached, the run stops (exit 1), and the rerun calibrates; a broken cached calibration is calibrated again', async () => {
  const server = await startFakeLlm(
    Array.from({ length: 6 }, () => ({ status: 503, headers: { 'x-should-retry': 'false' } })),
  );
  try {
    const out = join(tmp, 'calibration-outage');
    const calibrated = args(out, '--judge', 'openai:fake', '--judge-base-url', server.openaiUrl, '--no-judge-cache')
      .filter((_, i, all) => all[i] !== '--boost' && all[i - 1] !== '--boost')
      .concat(['--calibrate-steps', '2', '--calibrate-per-step', '1']);
    const run = () => startCli(calibrated, { env: { OPENAI_API_KEY: KEY } }).exited;
    const first = await run();
    assertExit(
      first,
      1,
      /calibration: the judge failed on 6 of 6 responses of features 3, 17, 40 .*Rerun the same command to calibrate them again/,
    );
    assert.deepEqual(existsSync(join(out, 'calibration')) ? readdirSync(join(out, 'calibration')) : [], []);
    assert.ok(!existsSync(join(out, 'trials.jsonl')), 'no trial ran on an uncalibrated strength');
    server.script(Array.from({ length: 20 }, () => ({ gradeWhole: 30 })));
    assertExit(await run(), 0);
    assert.equal(readdirSync(join(out, 'calibration')).length, 3);
    assert.equal(assertWholeLines(join(out, 'trials.jsonl')), 3);
    // cached calibrations edited or broken: each a miss with a warning, calibrated again and rewritten
    const [garbage, edited] = readdirSync(join(out, 'calibration')).map((f) => join(out, 'calibration', f));
    writeFileSync(garbage, '{"feature": 3, "thresh');
    writeFileSync(edited, JSON.stringify({ ...JSON.parse(readFileSync(edited, 'utf8')), threshold: 1e9 }));
    const requests = server.requests.length;
    const third = await run();
    assertExit(third, 0);
    assert.equal(third.stderr.match(/a cached calibration of feature \d+ that fails its checks/g)?.length, 2);
    assert.match(third.stderr, /not JSON/);
    assert.match(third.stderr, /threshold 1000000000, expected a number in \[/);
    assert.equal(server.requests.length - requests, 4, 'two features × 2 steps × 1 response judged again');
    for (const f of [garbage, edited]) assert.ok(JSON.parse(readFileSync(f, 'utf8')).threshold < 1e9, f);
  } finally {
    await server.close();
  }
});

test('runs refused on their inputs leave no config.json: the corrected rerun into the same --out works', async () => {
  const out = join(tmp, 'refused');
  const labels = join(tmp, 'labels-nothing.csv');
  writeFileSync(labels, 'index,label\n200000,not a latent of this SAE\n');
  // general text for the steering pool (the shipped one goes with the shipped model only)
  const general = join(tmp, 'general.txt');
  writeFileSync(general, 'The river runs past the old mill.\nA cat sleeps on the warm stone wall.\n');
  const sampled = (...more: string[]) =>
    heuristic(out, '--general-text', general, ...more).filter(
      (_, i, all) => all[i] !== '--features' && all[i - 1] !== '--features',
    );
  const refusals: [string[], RegExp][] = [
    [sampled('--n-features', '100000'), /--n-features 100000: the steering pool holds only \d+ latents/],
    [sampled('--n-features', '1', '--feature-labels', labels), /steering pool .* is empty/],
    [heuristic(out).map((x) => (x === 'baseline' ? 'baseline,random' : x)), /random/],
  ];
  for (const [a, pattern] of refusals) {
    const r = await runCliInProcess(a); // refusals: in this process, as a child would run them
    assertExit(r, 2, pattern);
    assert.ok(!existsSync(join(out, 'config.json')), `${pattern} left config.json`);
  }
  assertExit(runCli(heuristic(out)), 0);
  assert.equal(assertWholeLines(join(out, 'trials.jsonl')), 3);
});

test('a config.json left by a run that stored no trial is replaced; one with trials still refuses other settings', () => {
  const out = join(tmp, 'leftover');
  mkdirSync(out);
  writeFileSync(join(out, 'config.json'), JSON.stringify({ key: 'from-a-run-that-failed', config: {} }));
  const r = runCli(heuristic(out));
  assertExit(r, 0, /config\.json was left by a run with other settings that finished nothing; this run replaces it/);
  const other = runCli(heuristic(out, '--seed', '7'));
  assertExit(other, 2, /holds a run with other settings \(config\.json\)/);
});

test("another run's trials.jsonl copied into a run directory is refused naming the line, not counted", () => {
  const a = join(tmp, 'copy-from');
  assertExit(runCli(heuristic(a)), 0);
  const b = join(tmp, 'copy-to');
  mkdirSync(b);
  copyFileSync(join(a, 'trials.jsonl'), join(b, 'trials.jsonl'));
  const r = runCli(heuristic(b, '--seed', '3'));
  assertExit(
    r,
    2,
    /trials\.jsonl:1: trial ".*" was written by another run \(provenance\.run ".*", this run's is ".*"\)/,
  );
});

test('a judge echoing the key in its model id, replies and errors: no file, report, cache or output line keeps it', async () => {
  const echo = { 'x-echo': '{{KEY}}' };
  const server = await startFakeLlm([
    { status: 500, headers: { ...echo, 'x-should-retry': 'false' }, body: { error: { message: 'bad key {{KEY}}' } } },
    ...Array.from({ length: 9 }, () => ({ gradeWhole: 55, model: 'snapshot-{{KEY}}' })),
  ]);
  try {
    const out = join(tmp, 'secret');
    const cache = join(tmp, 'secret-cache');
    const run = () =>
      startCli(args(out, '--judge', 'openai:fake', '--judge-base-url', server.openaiUrl, '--judge-cache', cache), {
        env: { OPENAI_API_KEY: KEY },
      }).exited;
    const first = await run(); // one judgment fails (its error echoes the key), two succeed
    assertExit(first, 0);
    const second = await run(); // the failed one is judged again
    assertExit(second, 0, /1 stored trials whose judging failed are judged again/);
    const report = runCli(['report', out]);
    assertExit(report, 0);
    assert.ok(
      server.requests.some((q) => String(q.headers.authorization).includes(KEY)),
      'the key was sent',
    );
    const files = (dir: string): string[] =>
      readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .map((f) => join(dir, f))
        .filter((f) => statSync(f).isFile());
    const texts = [
      ...[...files(out), ...files(cache)].map((f) => [f, readFileSync(f, 'latin1')] as const),
      ...[first, second, report].flatMap((r) => [['stdout', r.stdout] as const, ['stderr', r.stderr] as const]),
    ];
    for (const [where, text] of texts) assert.ok(!text.includes(KEY), `the key leaked into ${where}`);
    const trials = readTrials(join(out, 'trials.jsonl'));
    assert.ok(trials.every((t) => t.judge?.model === 'snapshot-[redacted]'));
    assert.ok(
      readFileSync(join(out, 'trials.jsonl'), 'utf8').includes('bad key [redacted]'),
      'the scrubbed error is kept',
    );
    assert.ok(texts.some(([, t]) => t.includes('snapshot-[redacted]')));
  } finally {
    await server.close();
  }
});
