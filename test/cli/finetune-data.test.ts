// analyze finetune-data end to end on the shipped organism: valid axolotl input (every line's segments concatenate
// to the chat-rendered conversation, labels where stated), counts and hashes in the manifest, the split by prompt,
// nested ratios, a rerun that changes nothing, generated responses, and bad input refused before any work.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sha256Text } from '../../lib/io/hash.ts';
import { renderChat } from '../../lib/model/chat.ts';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { startFakeLlm } from '../fixtures/judge/fake-llm-server.ts';
import { assertExit, ROOT, runCli, runCliInProcess, startCli } from '../support/cli.ts';

const tmp = mkdtempSync(join(tmpdir(), 'esr-finetune-data-'));
const MODEL = join(ROOT, 'data', 'model');
const tokenizer = loadTokenizer(MODEL);
const ANSWERS = join(ROOT, 'data', 'corpus', 'answers.jsonl');
const PROMPTS = join(ROOT, 'data', 'prompts.txt');

interface Example {
  id: string;
  split: 'train' | 'validation';
  prompt: number;
  partner: number;
  rank: number;
  answer: string;
  distraction: string;
  correction: string;
  prompt_text: string;
}
const jsonl = <T>(path: string): T[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

const args = (out: string, ...extra: string[]) => [
  'finetune-data',
  '--responses',
  ANSWERS,
  '--prompts',
  PROMPTS,
  '--masked-ratio',
  '0,30',
  '--masked-ratio',
  '100',
  '--seed',
  '3',
  '--out',
  out,
  ...extra,
];

test('organism datasets: each line is the rendered conversation cut into labelled segments; counts, hashes and the split hold', () => {
  const out = join(tmp, 'sc');
  const r = runCli(args(out));
  assertExit(r, 0);
  assert.match(
    r.stdout,
    /masked 30%: train 129 examples \(39 masked, 90 normal, 43 prompts\), validation 15 \(5 masked, 5 prompts\)/,
  );
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  const examples = jsonl<Example>(join(out, 'examples.jsonl'));
  assert.equal(examples.length, 144);
  assert.equal(manifest.token_boundary_mismatches, 0);
  // the split is by prompt, and distractions come from another prompt of the same split
  const splitOf = new Map(examples.map((e) => [e.prompt, e.split]));
  for (const e of examples) {
    assert.equal(splitOf.get(e.prompt), e.split);
    assert.equal(splitOf.get(e.partner), e.split);
    assert.notEqual(e.partner, e.prompt);
  }
  assert.deepEqual(manifest.prompts.validation.length, 5);
  const maskedAt = new Map<number, Set<string>>();
  for (const entry of manifest.ratios) {
    const ids = new Set<string>();
    for (const split of ['train', 'validation'] as const) {
      const counts = entry[split];
      const text = readFileSync(join(out, counts.file), 'utf8');
      assert.equal(counts.sha256, sha256Text(text), counts.file);
      const lines = text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const mine = examples.filter((e) => e.split === split);
      assert.equal(lines.length, mine.length);
      assert.equal(counts.masked, Math.round((entry.masked_ratio / 100) * mine.length));
      lines.forEach((line, j) => {
        const e = mine[j];
        assert.deepEqual(Object.keys(line), ['segments']);
        const masked = line.segments.length === 3;
        if (masked) ids.add(e.id);
        assert.equal(masked, e.rank < counts.masked, e.id);
        const reply = masked ? `${e.distraction} ${e.correction} ${e.answer}` : e.answer;
        const conversation = renderChat(tokenizer, [
          { role: 'user', content: e.prompt_text },
          { role: 'assistant', content: reply },
        ]);
        assert.equal(line.segments.map((s: { text: string }) => s.text).join(''), conversation, e.id);
        assert.deepEqual(
          line.segments.map((s: { label: boolean }) => s.label),
          masked ? [false, false, true] : [false, true],
        );
        assert.ok(line.segments[0].text.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n'));
        if (masked) {
          assert.equal(line.segments[1].text, e.distraction);
          assert.ok(line.segments[2].text.startsWith(` ${e.correction} `));
        }
        assert.ok(line.segments.at(-1).text.endsWith('<|eot_id|>'));
      });
    }
    maskedAt.set(entry.masked_ratio, ids);
  }
  assert.equal(maskedAt.get(0)!.size, 0);
  assert.equal(maskedAt.get(100)!.size, 144);
  assert.ok([...maskedAt.get(30)!].every((id) => maskedAt.get(100)!.has(id)));

  // the same command again: the same bytes; other settings into the same directory: refused
  const before = manifest.ratios.map((e: { train: { sha256: string } }) => e.train.sha256);
  assertExit(runCli(args(out)), 0);
  const again = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  assert.deepEqual(
    again.ratios.map((e: { train: { sha256: string } }) => e.train.sha256),
    before,
  );
  assertExit(runCli(args(out, '--validation', '0.2')), 2, /holds a fine-tuning dataset with other settings/);
});

test('without --responses the model writes them (K per prompt, kept in responses.json for a rerun)', () => {
  const prompts = join(tmp, 'prompts.txt');
  writeFileSync(prompts, readFileSync(PROMPTS, 'utf8').split('\n').slice(0, 4).join('\n'));
  const out = join(tmp, 'gen');
  const args = [
    'finetune-data',
    '--prompts',
    prompts,
    '--responses-per-prompt',
    '2',
    '--max-tokens',
    '24',
    '--validation',
    '0',
    '--masked-ratio',
    '50',
    '--out',
    out,
  ];
  const r = runCli([...args, '--backend', 'wasm']);
  assertExit(r, 0);
  assert.match(r.stderr, /generating 2 response\(s\) to each of 4 prompts/);
  const responses = JSON.parse(readFileSync(join(out, 'responses.json'), 'utf8')).value;
  assert.equal(responses.answers.length, 4);
  assert.ok(responses.answers.every((a: string[]) => a.length === 2 && a[0] !== a[1]));
  assert.match(r.stdout, /masked 50%: train 8 examples \(4 masked, 4 normal, 4 prompts\)/);
  assert.ok(!existsSync(join(out, 'masked-50', 'validation.jsonl')));
  const rerun = runCli(args);
  assertExit(rerun, 0);
  assert.doesNotMatch(rerun.stderr, /generating/);
});

test('--llm: an LLM writes the distractions of the masked examples (and only those), through an OpenAI-compatible server', async () => {
  const prompts = join(tmp, 'four.txt');
  writeFileSync(prompts, readFileSync(PROMPTS, 'utf8').split('\n').slice(0, 4).join('\n'));
  const server = await startFakeLlm(
    Array.from({ length: 6 }, (_, i) => ({ reply: `Distraction number ${i}. Extra.` })),
  );
  try {
    const out = join(tmp, 'llm');
    const cmd = [
      'finetune-data',
      '--responses',
      ANSWERS,
      '--prompts',
      prompts,
      '--validation',
      '0',
      '--masked-ratio',
      '50',
      '--distraction-sentences',
      '1',
      '--llm',
      'openai:fake',
      '--llm-base-url',
      server.openaiUrl,
      '--llm-concurrency',
      '1',
      '--out',
      out,
    ];
    const r = await startCli(cmd, { env: { OPENAI_API_KEY: 'sk-fake' } }).exited;
    assertExit(r, 0);
    assert.equal(server.requests.length, 6, '12 examples, 6 masked');
    const examples = jsonl<Example>(join(out, 'examples.jsonl'));
    const masked = examples.filter((e) => e.rank < 6);
    assert.deepEqual(
      masked.map((e) => e.distraction).sort(),
      [0, 1, 2, 3, 4, 5].map((i) => `Distraction number ${i}.`),
    );
    const lines = jsonl<{ segments: { text: string }[] }>(join(out, 'masked-50', 'train.jsonl'));
    assert.equal(lines.filter((l) => /^Distraction number \d\.$/.test(l.segments[1]?.text ?? '')).length, 6);
    assert.equal(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).llm_distractions.distractions, 6);
  } finally {
    await server.close();
  }
});

test('bad flags and files are exit 2 before anything is written', async () => {
  const out = join(tmp, 'bad');
  const refused = (a: string[]) => runCliInProcess(a); // refusals: in this process, as a child would run them
  assertExit(
    await refused(args(out, '--masked-ratio', '150')),
    2,
    /--masked-ratio 150: expected a percentage in \[0, 100\]/,
  );
  assertExit(
    await refused(args(out, '--distraction-sentences', '3-1')),
    2,
    /--distraction-sentences: expected MIN-MAX/,
  );
  assertExit(
    await refused(args(out, '--corrections', join(tmp, 'missing.txt'))),
    2,
    /--corrections .*missing\.txt: file not found/,
  );
  assertExit(await refused(args(out, '--llm', 'openai:m')), 2, /--llm openai:m: OPENAI_API_KEY is not set/);
  assert.ok(!existsSync(out), 'nothing written');
});
