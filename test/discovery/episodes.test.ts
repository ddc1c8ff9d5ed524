// Episodes mode: region statistics and 50-bin traces of a latent set over self-correction episodes,
// checked against transformers + torch SAE codes and scipy (test/fixtures/discovery/make_episodes.py).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readEpisodes } from '../../lib/discovery/episodes.ts';
import { binMeans } from '../../lib/discovery/traces.ts';
import { InputError } from '../../lib/errors.ts';
import { assertExit, runCli } from '../support/cli.ts';
import { FIXTURE_SESSION_ARGS } from '../support/fixture-args.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures');
const DIR = join(FIX, 'discovery');
const expected = JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'otd-episodes-'));
const base = [
  'find-otd-latents',
  ...FIXTURE_SESSION_ARGS,
  '--episodes',
  join(DIR, 'episodes.jsonl'),
  '--latents',
  join(DIR, 'latents.json'),
  '--batch-size',
  '3',
];

function analyze(...args: string[]) {
  return runCli(args);
}

function close(got: number, want: number, what: string, rel = 1e-4, abs = 1e-5) {
  assert.ok(Math.abs(got - want) <= abs + rel * Math.abs(want), `${what}: got ${got}, want ${want}`);
}

test('binning: equal fractions of the response, tokens weighted by the share of the bin they cover (hand-computed)', () => {
  assert.deepEqual(Array.from(binMeans([1, 3], 4)), [1, 1, 3, 3]);
  // 3 tokens in 2 bins: bin 0 = tokens [0, 1.5) = (1·2 + 0.5·4)/1.5, bin 1 = (0.5·4 + 1·8)/1.5
  assert.deepEqual(Array.from(binMeans([2, 4, 8], 2)), [4 / 1.5, 10 / 1.5]);
  const hundred = Array.from({ length: 100 }, (_, i) => i);
  assert.deepEqual(
    Array.from(binMeans(hundred, 50)),
    Array.from({ length: 50 }, (_, b) => 2 * b + 0.5),
  );
  assert.deepEqual(Array.from(binMeans([7], 50)), new Array(50).fill(7));
});

test('episodes mode: region means, paired tests, missing regions and traces agree with torch + scipy', () => {
  const out = join(tmp, 'run');
  const r = analyze(...base, '--out', out);
  assertExit(r, 0);
  assert.match(r.stdout, /7 episodes, 3 latents; missing regions: off_topic 0, correction 1, on_topic 1/);
  assert.ok(existsSync(join(out, 'summary.md')) && existsSync(join(out, 'episodes.acts', 'meta.json')));
  const got = JSON.parse(readFileSync(join(out, 'episodes.json'), 'utf8'));
  assert.deepEqual(got.latents, expected.latents);
  assert.deepEqual(got.missing, expected.missing);
  assert.equal(got.binning.bins, 50);
  assert.deepEqual(
    got.episodes.map((e: { id: string }) => e.id),
    expected.episodes.map((e: { id: string }) => e.id),
    'input order',
  );
  for (const [i, want] of expected.episodes.entries()) {
    const e = got.episodes[i];
    assert.deepEqual(e.response, want.response, `${want.id} response tokens`);
    assert.deepEqual(e.regions, want.regions, `${want.id} region tokens`);
    for (const g of ['off_topic', 'correction', 'on_topic']) {
      if (want.region_means[g] === null) assert.equal(e.region_means[g], null);
      else close(e.region_means[g], want.region_means[g], `${want.id} ${g} mean`);
    }
    for (const l of expected.latents) {
      const trace = expected.traces[want.id][String(l)];
      trace.forEach((v: number, b: number) => close(e.trace[String(l)][b], v, `${want.id} latent ${l} bin ${b}`));
    }
  }
  for (const [c, want] of expected.comparisons.entries()) {
    const g = got.comparisons[c];
    assert.deepEqual([g.x, g.y], [want.x, want.y]);
    for (const w of want.results) {
      const row = g.results.find((x: { latent: unknown }) => x.latent === w.latent);
      const what = `${want.x} vs ${want.y}, latent ${w.latent}`;
      assert.equal(row.n_pairs, w.n_pairs, what);
      assert.equal(row.n_missing, w.n_missing, what);
      close(row.mean_x, w.mean_x, `${what} mean x`);
      close(row.mean_y, w.mean_y, `${what} mean y`);
      close(row.d_z, w.d_z, `${what} d_z`, 1e-3);
      close(row.paired_t.statistic, w.t, `${what} t`, 1e-3);
      close(row.paired_t.p, w.t_p, `${what} t p`, 1e-3);
      close(row.wilcoxon.p, w.wilcoxon_p, `${what} Wilcoxon p`, 1e-9);
    }
  }
});

test('episodes mode: bad input is a clear error, exit 2, nothing written', () => {
  const line = (o: object) => JSON.stringify(o);
  const ok = {
    id: 'a',
    prompt: 'Explain how to bake bread.',
    response: 'Gold rush. Wait. Knead the dough.',
    spans: { off_topic: [0, 10], correction: [11, 16], on_topic: [17, 33] },
  };
  const files: [string, string, RegExp][] = [
    [
      'overlap',
      [line(ok), line({ ...ok, id: 'b', spans: { off_topic: [0, 12], correction: [11, 16] } })].join('\n'),
      /regions off_topic \[0,12\) and correction \[11,16\) overlap/,
    ],
    [
      'past-end',
      [line(ok), line({ ...ok, id: 'b', spans: { on_topic: [17, 90] } })].join('\n'),
      /spans\.on_topic: end 90 is past the end of the response \(33 code points\)/,
    ],
    [
      'unknown',
      [line(ok), line({ ...ok, id: 'b', spans: { offtopic: [0, 5] } })].join('\n'),
      /spans\.offtopic: unknown region/,
    ],
    ['one', line(ok), /found 1 episode\(s\); paired comparisons need at least 2/],
    ['json', `${line(ok)}\n{"id": "b",`, /:2: not JSON/],
  ];
  for (const [name, text, message] of files) {
    const path = join(tmp, `${name}.jsonl`);
    writeFileSync(path, text);
    assert.throws(
      () => readEpisodes(path),
      (err: Error) => err instanceof InputError && message.test(err.message),
      name,
    );
  }
  // through the CLI: exit 2 and no run directory
  const out = join(tmp, 'bad-overlap');
  const bad = analyze(
    ...base.map((a) => (a.endsWith('episodes.jsonl') ? join(tmp, 'overlap.jsonl') : a)),
    '--out',
    out,
  );
  assertExit(bad, 2, /overlap\.jsonl:2: regions off_topic/);
  assert.ok(!existsSync(out), 'nothing written');
  const tooWide = join(tmp, 'wide.json');
  writeFileSync(
    tooWide,
    JSON.stringify({
      method: 'x',
      criterion: {},
      model: null,
      sae: null,
      layer: 1,
      latents: [{ latent: 300, selected: true, stats: {} }],
      selected: [300],
    }),
  );
  const r = analyze(...base.map((a) => (a.endsWith('latents.json') ? tooWide : a)), '--out', join(tmp, 'bad-wide'));
  assertExit(r, 2, /latent 300 is outside the SAE \(d_sae = 256\)/);
});
