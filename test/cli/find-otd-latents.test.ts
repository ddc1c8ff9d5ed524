// find-otd-latents end to end through the CLI: outputs, determinism, resume, bad input.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tableFromIPC } from 'apache-arrow';
import { writeSafetensors } from '../../lib/io/safetensors.ts';
import { assertExit, runCli, runCliInProcess, startCli } from '../support/cli.ts';
import { FIXTURE_MODEL as MODEL, FIXTURE_SAE as SAE, FIXTURE_SESSION_ARGS } from '../support/fixture-args.ts';
import { RANKING_CONTRACT_COLUMNS } from '../support/ranking-contract.ts';
import { type DiscoveryConfig, discoveryOptions } from '../../lib/discovery/options.ts';
import { flagOf, SettingError } from '../../lib/errors.ts';

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
  ...FIXTURE_SESSION_ARGS,
  '--prompts',
  prompts,
  '--max-tokens',
  '8',
  '--derangements',
  '3',
];

const analyze = (...args: string[]) => runCli(args);
/** A refusal before any work (exit 2), run in this process as a child would run it (test/support/cli.ts). */
const refused = (...args: string[]) => runCliInProcess(args);

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

test('bad input: a clear error, exit 2, nothing written', async () => {
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
    [['--layer', '7'], /--layer 7: blocks\.7\.hook_resid_post names layer 7, but the model has layers 0\.\.2/],
    [
      ['--sae', narrowSae, '--layer', '1'],
      /the SAE's d_in is 32, but blocks\.1\.hook_resid_post of this model is 64 wide/,
    ],
    [['--responses', badResponses], /neither a JSON object nor JSONL/],
    [['--derangements', '0'], /error: --derangements: expected an integer in \[1, 1000\], found 0/],
    [['--holdout', '1e999'], /error: --holdout: expected a number in \(0, 1\), found Infinity/],
    [['--method', 'auc'], /error: --method: expected one of frequency, separability, effect, found "auc"/],
    [['--resume'], /error: --resume and --out conflict/],
    [['--latents', 'x.json'], /error: --latents applies only with --episodes/],
  ];
  for (const [i, [extra, message]] of cases.entries()) {
    const out = join(tmp, `bad-${i}`);
    const overridden = new Set(extra.filter((a) => a.startsWith('--')));
    const kept = base.filter((a, i) => !overridden.has(a) && !overridden.has(base[i - 1]));
    const r = await refused(...kept, ...extra, '--out', out);
    assertExit(r, 2, message);
    assert.ok(!existsSync(join(out, 'latents.json')));
  }
});

test('a notebook and the CLI reject the same bad value with the same message (settings named, flags on the CLI)', async () => {
  const at = { model: MODEL, sae: SAE };
  const cases: [DiscoveryConfig, string[]][] = [
    [{ derangements: 0 }, ['--derangements', '0']],
    [{ topP: 1.5 }, ['--top-p', '1.5']],
    [{ seed: 1.5 }, ['--seed', '1.5']],
    [{ method: 'auc' } as unknown as DiscoveryConfig, ['--method', 'auc']],
  ];
  for (const [config, args] of cases) {
    let lib: unknown = null;
    try {
      discoveryOptions({ ...config, prompts }, at);
    } catch (e) {
      lib = e;
    }
    assert.ok(lib instanceof SettingError, `${JSON.stringify(config)} was accepted`);
    const kept = base.filter((a, i) => a !== args[0] && base[i - 1] !== args[0]);
    const r = await refused(...kept, ...args, '--out', join(tmp, 'never'));
    assertExit(r, 2);
    assert.equal(r.stderr.trim(), `error: ${lib.render(flagOf)}`);
    assert.equal(
      lib
        .render(flagOf)
        .replace(/--([a-z-]+)/g, (_, f: string) => f.replace(/-(.)/g, (__, c: string) => c.toUpperCase())),
      lib.message,
    );
  }
  assert.ok(!existsSync(join(tmp, 'never')));
});

test('your own model and SAE without --prompts: exit 2 naming the flag (the shipped prompts are for the shipped model only)', async () => {
  const kept = base.filter((a, i) => a !== '--prompts' && base[i - 1] !== '--prompts');
  const r = await refused(...kept, '--out', join(tmp, 'no-prompts'));
  assertExit(r, 2);
  assert.match(
    r.stderr,
    /error: give --prompts: a prompts file, one prompt per line \(the shipped prompts go with the shipped model and SAE only\)/,
  );
  assert.throws(() => discoveryOptions({}, { model: MODEL, sae: SAE }), /^SettingError: give prompts: /);
});

test("an SAE whose hook layer the model does not have: the error names the SAE's hook, not a flag never given", async () => {
  const sae = join(tmp, 'deep-sae');
  mkdirSync(sae);
  copyFileSync(join(SAE, 'sae_weights.safetensors'), join(sae, 'sae_weights.safetensors'));
  const cfg = JSON.parse(readFileSync(join(SAE, 'cfg.json'), 'utf8'));
  writeFileSync(join(sae, 'cfg.json'), JSON.stringify({ ...cfg, hook_name: 'blocks.5.hook_resid_post' }));
  const kept = base.filter((a, i) => a !== '--sae' && base[i - 1] !== '--sae');
  const r = await refused(...kept, '--sae', sae, '--out', join(tmp, 'deep'));
  assertExit(r, 2);
  assert.match(
    r.stderr,
    /deep-sae: the SAE's hook point blocks\.5\.hook_resid_post \(is the SAE for this model\? --layer reads elsewhere\): blocks\.5\.hook_resid_post names layer 5, but the model has layers 0\.\.2/,
  );
  assert.doesNotMatch(r.stderr, /error: --layer 5/);
});
