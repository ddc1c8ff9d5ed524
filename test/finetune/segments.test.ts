// lib/finetune/segments.ts against transformers + axolotl's input_output tokenization, computed in Python by
// test/fixtures/finetune/make_segments.py: the same segments, and the same ids and labels when each segment is
// tokenized on its own (as axolotl does).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { renderExample, replyText } from '../../lib/finetune/segments.ts';
import { loadTokenizer, type Tokenizer } from '../../lib/model/tokenizer.ts';

const ROOT = join(import.meta.dirname, '..', '..');
interface Expected {
  examples: { prompt: string; distraction: string; correction: string; answer: string; system?: string }[];
  tokenizers: Record<
    string,
    {
      example: number;
      masked: boolean;
      segments: { label: boolean; text: string }[];
      input_ids: number[];
      labels: number[];
      whole_ids: number[];
      conversation: string;
    }[]
  >;
}
const expected: Expected = JSON.parse(
  readFileSync(join(ROOT, 'test', 'fixtures', 'finetune', 'expected_segments.json'), 'utf8'),
);

/** axolotl's view of segments: each tokenized without special tokens, labels -100 where the label is false. */
function axolotl(tokenizer: Tokenizer, segments: { label: boolean; text: string }[]) {
  const ids: number[] = [];
  const labels: number[] = [];
  for (const s of segments) {
    const piece = tokenizer.encode(s.text, { addSpecialTokens: false }).ids;
    ids.push(...piece);
    labels.push(...(s.label ? piece : piece.map(() => -100)));
  }
  return { ids, labels };
}

for (const [dir, cases] of Object.entries(expected.tokenizers)) {
  test(`${dir}: segments, ids and labels are transformers' and axolotl's; they concatenate to the rendered conversation`, () => {
    const tokenizer = loadTokenizer(join(ROOT, dir));
    for (const c of cases) {
      const ex = expected.examples[c.example];
      const r = renderExample(tokenizer, {
        prompt: ex.prompt,
        answer: ex.answer,
        selfCorrection: c.masked ? { distraction: ex.distraction, correction: ex.correction } : undefined,
        system: ex.system ?? null,
      });
      const what = `example ${c.example} ${c.masked ? 'masked' : 'normal'}`;
      assert.deepEqual(r.segments, c.segments, what);
      assert.equal(r.segments.map((s) => s.text).join(''), c.conversation, what);
      assert.deepEqual(
        r.segments.map((s) => s.label),
        c.masked ? [false, false, true] : [false, true],
      );
      const got = axolotl(tokenizer, r.segments);
      assert.deepEqual(got.ids, c.input_ids, `${what}: ids`);
      assert.deepEqual(got.labels, c.labels, `${what}: labels`);
      assert.equal(r.boundariesClean, c.input_ids.join() === c.whole_ids.join(), what);
      assert.equal(r.tokens, c.input_ids.length);
      assert.equal(r.trainedTokens, c.labels.filter((l) => l !== -100).length);
    }
  });
}

test('a tokenizer that merges across a cut is reported (the segments tokenize differently from the whole)', () => {
  // characters are tokens, except ". " which is one: the cut after the distraction's "." splits it
  const encode = (text: string) => {
    const ids: number[] = [];
    const offsets: [number, number][] = [];
    for (let i = 0; i < text.length; i++) {
      const pair = text.startsWith('. ', i);
      ids.push(pair ? 1000 : text.charCodeAt(i));
      offsets.push([i, i + (pair ? 2 : 1)]);
      if (pair) i++;
    }
    return { ids, offsets, tokens: ids.map(String) };
  };
  const tokenizer = {
    dir: '.',
    vocabSize: 1001,
    bosId: null,
    eosIds: [],
    specialTokens: {},
    chatTemplate:
      '{% for m in messages %}<{{ m.role }}>{{ m.content }}</>{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}',
    chatTemplateFile: null,
    encode,
    decode: () => '',
    tokenToId: () => undefined,
    idToToken: () => undefined,
  } as unknown as Tokenizer;
  const e = { prompt: 'Q?', answer: 'Yes.', selfCorrection: { distraction: 'No.', correction: 'Wait.' } };
  const r = renderExample(tokenizer, e);
  assert.equal(replyText(e), 'No. Wait. Yes.');
  assert.deepEqual(
    r.segments.map((s) => s.text),
    ['<user>Q?</><assistant>', 'No.', ' Wait. Yes.</>'],
  );
  assert.equal(r.boundariesClean, false);
  assert.equal(renderExample(tokenizer, { prompt: 'Q?', answer: 'Yes.' }).boundariesClean, true);
});
