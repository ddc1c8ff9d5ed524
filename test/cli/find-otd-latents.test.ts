// find-otd-latents end to end through the CLI: outputs, determinism, resume, bad input.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { writeSafetensors } from '../../lib/io/safetensors.ts';
import { assertExit, ROOT, runCli, startCli } from '../support/cli.ts';
import { RANKING_CONTRACT_COLUMNS } from '../support/ranking-contract.ts';

const FIX = join(ROOT, 'test', 'fixtures');
const MODEL = join(FIX, 'models', 'llama3-gqa');
const SAE = join(FIX, 'sae', 'saelens_relu');
const tmp = mkdtempSync(join(tmpdir(), 'otd-'));
const prompts = join(tmp, 'prompts.txt');
writeFileSync(
  prompts,
  [
    'Explain how to bake bread.',
    'Explain how to plant a tree.',
    'Explain how to fix a puncture.',
    'Explain how to save money.',
    'Explain how to tie a knot.',
    'Explain how to brew tea.',
  ].join('\n'),
);
const base = [
  'find-otd-latents',
  '--model',
  MODEL,
  '--sae',
  SAE,
  '--prompts',
  prompts,
  '--max-tokens',
  '8',
  '--derangements',
  '3',
];

const analyze = (...args: string[]) => runCli(args);

test('a run writes every output, schema-valid, and a rerun with the same seed gives identical latents.json', () => {
  const a = join(tmp, 'a'),
    b = join(tmp, 'b');
  const r1 = analyze(...base, '--out', a);
  assertExit(r1, 0);
  assert.match(
    r1.stdout,
    /18 off-topic vs 6 on-topic samples; within-prompt test over 6 prompts \(K = 3\); \d+ latents pass the separability rule/,
  );
  for (const f of [
    'latents.json',
    'ranking.arrow',
    'summary.md',
    'responses.json',
    'activations.acts/codes.arrow',
    'activations.acts/samples.arrow',
    'activations.acts/meta.json',
  ]) {
    assert.ok(existsSync(join(a, f)), f);
  }
  const set = JSON.parse(readFileSync(join(a, 'latents.json'), 'utf8'));
  assert.equal(set.latents.length, 100);
  assert.ok(
    set.latents.every(
      (e: { latent: number; selected: boolean }) => Number.isInteger(e.latent) && typeof e.selected === 'boolean',
    ),
  );
  const ranking = tableFromIPC(readFileSync(join(a, 'ranking.arrow')));
  assert.deepEqual(
    ranking.schema.fields.map((f) => f.name),
    RANKING_CONTRACT_COLUMNS,
  );
  assert.equal(ranking.numRows, 256);
  const r2 = analyze(...base, '--out', b);
  assertExit(r2, 0);
  assert.equal(readFileSync(join(b, 'latents.json'), 'utf8'), readFileSync(join(a, 'latents.json'), 'utf8'));
});

test('a run killed during capture resumes without recomputing finished samples', async () => {
  const dir = join(tmp, 'killed');
  // SIGKILL the process right after its second capture batch is committed (its samples part file is the commit).
  const run = startCli([...base, '--out', dir, '--batch-size', '2'], {
    stopAt: { op: 'rename', path: '/parts/000001\\.samples\\.arrow$', nth: 1 },
  });
  await run.stopped;
  assert.equal((await run.kill()).signal, 'SIGKILL');
  assert.ok(!existsSync(join(dir, 'latents.json')), 'the run was cut short');
  const resumed = analyze(...base, '--out', dir, '--batch-size', '2');
  assertExit(resumed, 0, /capture: 4 samples already stored; \d+ of \d+ batches to run/);
  const [, pending, total] = /capture: 4 samples already stored; (\d+) of (\d+) batches to run/
    .exec(resumed.stderr)!
    .map(Number);
  assert.equal(pending, total - 2, 'the two committed batches are not redone');
  const whole = join(tmp, 'whole');
  assertExit(analyze(...base, '--out', whole, '--batch-size', '2'), 0);
  assert.equal(readFileSync(join(dir, 'latents.json'), 'utf8'), readFileSync(join(whole, 'latents.json'), 'utf8'));
});

test('bad input: a clear error, exit 2, nothing written', () => {
  const one = join(tmp, 'one.txt');
  writeFileSync(one, 'Explain how to bake bread.\n');
  const badResponses = join(tmp, 'bad.json');
  writeFileSync(badResponses, '{"Explain how to bake bread.": 3');
  const narrowSae = join(tmp, 'narrow.safetensors');
  const zeros = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });
  writeSafetensors(narrowSae, {
    W_enc: zeros([32, 16]),
    W_dec: zeros([16, 32]),
    b_enc: zeros([16]),
    b_dec: zeros([32]),
  });
  const cases: [string[], RegExp][] = [
    [['--prompts', one], /at least 2 are needed \(no derangement of fewer exists\)/],
    [['--prompts', join(tmp, 'missing.txt')], /missing\.txt: prompts file not found/],
    [['--layer', '7'], /--layer 7: the model has layers 0\.\.2/],
    [['--sae', narrowSae, '--layer', '1'], /SAE's d_in is 32 but the model's hidden size is 64/],
    [['--responses', badResponses], /neither a JSON object nor JSONL/],
  ];
  for (const [i, [extra, message]] of cases.entries()) {
    const out = join(tmp, `bad-${i}`);
    const overridden = new Set(extra.filter((a) => a.startsWith('--')));
    const kept = base.filter((a, i) => !overridden.has(a) && !overridden.has(base[i - 1]));
    const r = analyze(...kept, ...extra, '--out', out);
    assertExit(r, 2, message);
    assert.ok(!existsSync(join(out, 'latents.json')));
  }
});
