// The test files keep away from what makes a suite flaky or a failure hard to read (README "Development"):
// commands run through test/support/cli.ts (hermetic environment) and their exit codes are checked with
// assertExit (whole stderr on failure); no test timeouts or timers, no clock reads, no fixed ports, no
// unseeded randomness. Checked on the source text of every test file.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { hermeticEnv, ROOT } from '../support/cli.ts';

interface Rule {
  pattern: RegExp;
  why: string;
}

const RULES: Rule[] = [
  {
    pattern: /bin[/', ]+analyze\.js/,
    why: 'run the CLI with runCli/startCli/runCommand (test/support/cli.ts)',
  },
  {
    pattern: /(?<![.\w])(spawn|spawnSync|execFileSync|execSync|execFile|exec|fork)\(/,
    why: 'run child processes with runCommand/runTs/startCommand/startCli',
  },
  {
    pattern: /assert\.\w+\([\w.!]+\.(status|code),/,
    why: 'check exit codes with assertExit (a failure shows the command, the code and the whole stderr)',
  },
  { pattern: /\btimeout:\s*\d/, why: 'no test timeouts: a slow machine reaches them' },
  {
    pattern: /\b(setTimeout|setInterval|setImmediate)\(|timers\/promises/,
    why: 'wait for an event the program sends, not for time',
  },
  { pattern: /\bDate\.now\(|\bperformance\.now\(|\bhrtime\b/, why: 'no clock reads: no durations asserted' },
  { pattern: /\.listen\(\s*[1-9]/, why: 'listen on port 0 (the OS picks a free one)' },
  { pattern: /\bMath\.random\(/, why: 'seeded randomness only (lib/random.ts)' },
];

/** Files allowed a rule, with the reason. */
const ALLOWED: Record<string, RegExp[]> = {
  // git, to build the small repository test:repeat runs on
  'test/project/test-repeat.test.ts': [RULES[1].pattern],
  // children that lock through the library and hold until told, answering on stdout (no CLI)
  'test/runs/lock.test.ts': [RULES[1].pattern],
  // this file names the patterns
  'test/project/determinism.test.ts': RULES.map((r) => r.pattern),
};

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? testFiles(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((f) => /\.test\.ts$/.test(f))
    .sort();
}

test('test files run commands through test/support/cli.ts, check exits with assertExit, and use no timers, clocks, fixed ports or Math.random', () => {
  const files = testFiles(join(ROOT, 'test'));
  assert.ok(files.length > 50, `${files.length} test files found`);
  const problems: string[] = [];
  for (const file of files) {
    const name = relative(ROOT, file);
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/^\s*(\/\/|\*|\/\*)/.test(line)) return; // comments may name what is avoided
        for (const rule of RULES) {
          if (rule.pattern.test(line) && !ALLOWED[name]?.includes(rule.pattern))
            problems.push(`${name}:${i + 1}: ${line.trim()}\n  → ${rule.why}`);
        }
      });
  }
  assert.deepEqual(problems, []);
});

test("a command a test runs sees none of the shell's judge keys, ESR_* settings or scheduler shard index", () => {
  const shell = {
    ANTHROPIC_API_KEY: 'sk-shell',
    OPENAI_BASE_URL: 'http://shell',
    ESR_DEBUG: '1',
    ESR_RUNS_DIR: '/shell/runs',
    SLURM_ARRAY_TASK_ID: '3',
    SLURM_ARRAY_TASK_COUNT: '4',
    JOB_COMPLETION_INDEX: '1',
    NODE_TEST_CONTEXT: 'child-v8',
    SLURM_JOB_ID: '42', // not read by any command: kept
  };
  const saved = Object.fromEntries(Object.keys(shell).map((k) => [k, process.env[k]]));
  Object.assign(process.env, shell);
  try {
    const { env, set } = hermeticEnv({ env: { OPENAI_API_KEY: 'sk-given' } });
    const seen = Object.fromEntries(Object.keys({ ...shell, OPENAI_API_KEY: 1 }).map((k) => [k, env[k]]));
    assert.deepEqual(seen, {
      ANTHROPIC_API_KEY: undefined,
      OPENAI_BASE_URL: undefined,
      ESR_DEBUG: undefined,
      ESR_RUNS_DIR: set.ESR_RUNS_DIR, // a new temporary directory
      SLURM_ARRAY_TASK_ID: undefined,
      SLURM_ARRAY_TASK_COUNT: undefined,
      JOB_COMPLETION_INDEX: undefined,
      NODE_TEST_CONTEXT: undefined,
      SLURM_JOB_ID: '42',
      OPENAI_API_KEY: 'sk-given', // what the test gives is kept
    });
    assert.notEqual(set.ESR_RUNS_DIR, shell.ESR_RUNS_DIR);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
