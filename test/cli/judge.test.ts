// Re-grading into a new store (resuming after a torn write), and `analyze judge` end to end: a remote
// judge with the key kept out of every output, and bad input rejected before any work.
import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createJudge, regradeTrials } from '../../lib/judge/index.ts';
import { readTrials } from '../../lib/trials/store.ts';
import type { Trial } from '../../lib/trials/types.ts';
import { startFakeLlm } from '../fixtures/judge/fake-llm-server.ts';
import { assertExit, startCli } from '../support/cli.ts';

const KEY = 'sk-fake-KEY-9f3a7c1e-do-not-leak';

function trial(id: string, response: string, error: string | null = null): Trial {
  return {
    id,
    feature: 7,
    feature_label: 'oceans',
    prompt: 'How do I bake bread?',
    seed: 1,
    condition: 'baseline',
    boost: 4,
    interventions: [{ hook: 'blocks.1.hook_resid_post', layer: 1, latent: 7, value: 4, mode: 'add' }],
    response,
    judge: { id: 'old-judge', attempts: [{ text: response, score: 50 }], raw: null, error: null },
    error,
    provenance: { run: 'r1' },
  };
}

const TRIALS = [
  trial('t1', 'Tides follow the moon. Wait, let me get back to the question. Bread needs yeast.'),
  trial('t2', 'Bake the bread for forty minutes.'),
  trial('t3', '', 'generation failed: out of memory'),
];

/** `analyze judge args`, run without blocking this process (the fake server answers from it). */
const analyze = (args: string[], env: Record<string, string> = {}) => startCli(['judge', ...args], { env }).exited;

function withDir(fn: (dir: string) => Promise<void>) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'judge-cli-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function writeStore(path: string, trials: Trial[]): void {
  writeFileSync(path, trials.map((t) => `${JSON.stringify(t)}\n`).join(''));
}

test(
  'regradeTrials: heuristic re-grade into a new store; resumes after a torn write without duplicates',
  withDir(async (dir) => {
    const input = join(dir, 'trials.jsonl');
    const out = join(dir, 'regraded.jsonl');
    writeStore(input, TRIALS);
    const regrade = () =>
      regradeTrials({ trialsPath: input, outPath: out, judge: createJudge('heuristic', { env: {} }) });
    const first = await regrade();
    assert.deepEqual(first, {
      input: 3,
      already_done: 0,
      rejudged: 0,
      rejudged_ok: 0,
      judged: 2,
      judge_errors: 0,
      generation_errors: 1,
      output_total: 3,
      output_judge_errors: 0,
    });
    const byId = new Map(readTrials(out).map((t) => [t.id, t]));
    // t1: prompt terms {bake, bread}; "Tides follow the moon." has neither, the restart has "bread".
    assert.deepEqual(byId.get('t1')!.judge!.attempts, [
      { text: 'Tides follow the moon.', score: 0 },
      { text: 'Wait, let me get back to the question. Bread needs yeast.', score: 50 },
    ]);
    assert.deepEqual(byId.get('t2')!.judge!.attempts, [{ text: 'Bake the bread for forty minutes.', score: 100 }]);
    assert.equal(byId.get('t3')!.judge, null); // a failed generation is copied, not judged
    assert.equal(byId.get('t3')!.error, 'generation failed: out of memory');
    const prov = byId.get('t1')!.provenance as any;
    assert.equal(prov.run, 'r1');
    assert.equal(prov.judge.approximation, true);
    assert.equal(prov.regraded_from.previous_judge, 'old-judge');

    // Simulate a kill: keep t1 only, plus half a line of t2.
    const lines = readFileSync(out, 'utf8').split('\n');
    writeFileSync(
      out,
      `${lines.find((l) => l.includes('"id":"t1"'))!}\n${lines.find((l) => l.includes('"id":"t2"'))!.slice(0, 40)}`,
    );
    const second = await regrade();
    assert.deepEqual([second.already_done, second.judged, second.generation_errors, second.output_total], [1, 1, 1, 3]);
    assert.deepEqual(
      readTrials(out)
        .map((t) => t.id)
        .sort(),
      ['t1', 't2', 't3'],
    );
    assert.deepEqual(new Map(readTrials(out).map((t) => [t.id, t])), byId, 'same content as the uninterrupted run');
    const third = await regrade();
    assert.deepEqual([third.already_done, third.judged, third.output_total], [3, 0, 3]);

    await assert.rejects(
      regradeTrials({ trialsPath: input, outPath: input, judge: createJudge('heuristic') }),
      /^SettingError: out .*: is the same file as trials /, // the library names settings, the command flags
    );
    appendFileSync(input, `${JSON.stringify({ ...TRIALS[0], response: 'another response' })}\n`);
    await assert.rejects(
      regradeTrials({ trialsPath: input, outPath: join(dir, 'new.jsonl'), judge: createJudge('heuristic') }),
      /already stored at line 1 with different content/,
    );
    assert.equal(existsSync(join(dir, 'new.jsonl')), false);
  }),
);

test(
  'remote judge through the CLI: key from the environment only, never in stdout, stderr, store or cache',
  withDir(async (dir) => {
    const reply = (text: string, score: number) => ({
      reply: `<result>{"attempts":[{"text":${JSON.stringify(text)},"score":${score}}]}</result>`,
    });
    const server = await startFakeLlm([
      reply(TRIALS[0].response, 40),
      reply(TRIALS[1].response, 90),
      { echoAuth: true },
    ]);
    try {
      const input = join(dir, 'trials.jsonl');
      const out = join(dir, 'regraded.jsonl');
      const cache = join(dir, 'cache');
      writeStore(input, [...TRIALS, trial('t4', 'Knead the dough.')]);
      const r = await analyze(
        [
          '--trials',
          input,
          '--judge',
          'openai:fake-model',
          '--judge-base-url',
          server.openaiUrl,
          '--concurrency',
          '1',
          '--judge-cache',
          cache,
          '--out',
          out,
        ],
        { OPENAI_API_KEY: KEY },
      );
      assertExit(r, 0);
      assert.match(r.stdout, /1 judge errors/);
      const trials = readTrials(out);
      assert.equal(trials.length, 4);
      assert.equal(trials.filter((t) => t.judge?.error).length, 1);
      assert.deepEqual(trials.find((t) => t.id === 't2')!.judge!.attempts, [{ text: TRIALS[1].response, score: 90 }]);
      const everything = [r.stdout, r.stderr, readFileSync(out, 'utf8')];
      for (const f of readdirSync(cache, { recursive: true })) {
        const p = join(cache, String(f));
        if (p.endsWith('.json')) everything.push(readFileSync(p, 'utf8'));
      }
      assert.equal(everything.length, 5, 'two cached successes');
      for (const text of everything) assert.ok(!text.includes(KEY), 'the API key leaked');
      assert.ok(server.requests.every((q) => String(q.headers.authorization).includes(KEY)));
    } finally {
      await server.close();
    }
  }),
);

test(
  'CLI bad input: exit 2 with a clear message, before any output is written',
  withDir(async (dir) => {
    const input = join(dir, 'trials.jsonl');
    const out = join(dir, 'out.jsonl');
    writeStore(input, TRIALS);
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--out', out, '--judge', 'openai:gpt-x'], {}, /OPENAI_API_KEY is not set/],
      [
        ['--out', out, '--judge', 'anthropic:claude-x', '--judge-prompt', join(dir, 'nope.txt')],
        { ANTHROPIC_API_KEY: KEY },
        /--judge-prompt .*nope\.txt: file not found/,
      ],
      [['--out', input, '--judge', 'heuristic'], {}, /APPROXIMATION[\s\S]*is the same file as --trials/],
    ];
    for (const [args, env, message] of cases) {
      const r = await analyze(['--trials', input, ...args], env);
      assertExit(r, 2, message);
      assert.ok(!r.stderr.includes(KEY));
      assert.equal(existsSync(out), false);
    }
  }),
);

test(
  '--out naming --trials through a symbolic or hard link, or another spelling, is refused (exit 2): paths compared as files',
  withDir(async (dir) => {
    const input = join(dir, 'trials.jsonl');
    writeStore(input, TRIALS);
    symlinkSync(input, join(dir, 'link.jsonl'));
    linkSync(input, join(dir, 'hard.jsonl'));
    mkdirSync(join(dir, 'sub'));
    for (const out of [join(dir, 'link.jsonl'), join(dir, 'hard.jsonl'), join(dir, 'sub', '..', 'trials.jsonl')]) {
      assertExit(
        await analyze(['--trials', input, '--out', out, '--judge', 'heuristic']),
        2,
        /is the same file as --trials/,
      );
    }
    assert.equal(
      readFileSync(input, 'utf8').split('\n').filter(Boolean).length,
      TRIALS.length,
      'the input is untouched',
    );
  }),
);

test(
  'a judge outage while re-grading: the failed judgments are judged again on the next run, and only those',
  withDir(async (dir) => {
    const input = join(dir, 'trials.jsonl');
    const out = join(dir, 'regraded.jsonl');
    writeStore(input, TRIALS);
    const server = await startFakeLlm([
      { status: 500, headers: { 'x-should-retry': 'false' } },
      { status: 503, headers: { 'x-should-retry': 'false' } },
    ]);
    try {
      const regrade = () =>
        regradeTrials({
          trialsPath: input,
          outPath: out,
          judge: createJudge('openai:fake', {
            baseUrl: server.openaiUrl,
            env: { OPENAI_API_KEY: KEY },
            requestTimer: server.requestTimer,
          }),
        });
      const first = await regrade();
      assert.equal(first.judge_errors, 2);
      assert.equal(first.output_judge_errors, 2);
      server.script([{ gradeWhole: 35 }, { gradeWhole: 35 }]);
      const second = await regrade();
      assert.deepEqual([second.rejudged, second.rejudged_ok, second.judged, second.output_judge_errors], [2, 2, 0, 0]);
      assert.equal(server.requests.length, 4);
      const trials = readTrials(out);
      assert.deepEqual(
        trials.map((t) => [t.id, t.judge?.attempts[0]?.score ?? null]).sort(),
        [
          ['t1', 35],
          ['t2', 35],
          ['t3', null],
        ].sort(),
      );
      const third = await regrade();
      assert.deepEqual([third.rejudged, third.judged], [0, 0]);
    } finally {
      await server.close();
    }
  }),
);
