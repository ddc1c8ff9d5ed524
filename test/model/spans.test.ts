import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { locateChatSpans, tokenSpan, type Span } from '../../lib/model/spans.ts';
import type { ChatMessage } from '../../lib/model/chat.ts';
import { InputError } from '../../lib/errors.ts';

// Expected token spans: the overlap rule applied to transformers' offsets of its own
// apply_chat_template rendering, with the content found by a different method (rfind of the
// stripped content) in make_tokenizers.py.
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));

interface SpanCase {
  messages: ChatMessage[];
  add_generation_prompt?: boolean;
  spans: Record<string, Span>;
  rendered: string;
  ids: number[];
  response: Span;
  tokens: Record<string, Span>;
  chars_utf16: Record<string, Span>;
}

for (const name of ['llama3', 'gemma']) {
  const tok = loadTokenizer(join(FIXTURES, name));
  (expected[name].spans as SpanCase[]).forEach((c, i) => {
    test(`${name}: span case ${i} maps to transformers' token spans`, () => {
      const got = locateChatSpans(tok, c.messages, c.spans, { addGenerationPrompt: c.add_generation_prompt ?? false });
      assert.equal(got.text, c.rendered);
      assert.deepEqual(got.ids, c.ids);
      assert.deepEqual(got.response, c.response);
      // null-prototype tables (span names are the input's): compared by their entries
      assert.deepEqual({ ...got.tokens }, c.tokens);
      assert.deepEqual({ ...got.chars }, c.chars_utf16);
    });
  });
}

const llama = loadTokenizer(join(FIXTURES, 'llama3'));
const chat = (content: string): ChatMessage[] => [
  { role: 'user', content: 'Q?' },
  { role: 'assistant', content },
];

test('UTF-16 span units give the same result as code points', () => {
  const content = 'A 😀 then more text';
  const cp = locateChatSpans(llama, chat(content), { s: [4, 8] });
  const u16 = locateChatSpans(llama, chat(content), { s: [5, 9] }, { spanUnit: 'utf16' });
  assert.deepEqual(cp.tokens, u16.tokens);
  assert.equal(cp.text.slice(...cp.chars.s), 'then');
});

test('a span wholly in whitespace the template trims is an InputError', () => {
  assert.throws(
    () => locateChatSpans(llama, chat('  Text.  '), { pad: [0, 2] }),
    (e: unknown) => e instanceof InputError && /spans\.pad.*trims/.test(e.message),
  );
});

test('a template that rewrites the content (beyond trimming) makes spans fail loudly', () => {
  const upper = { ...llama, chatTemplate: "{% for m in messages %}{{ m['content'] | upper }}\n{% endfor %}" };
  assert.throws(
    () => locateChatSpans(upper, chat('some text'), {}),
    (e: unknown) => e instanceof InputError && /cannot be located/.test(e.message),
  );
  const twice = { ...llama, chatTemplate: "{% for m in messages %}{{ m['content'] }}{{ m['content'] }}{% endfor %}" };
  assert.throws(() => locateChatSpans(twice, chat('x'), {}), /not rendered exactly once/);
});

test('bad spans are InputErrors naming the span', () => {
  assert.throws(() => locateChatSpans(llama, chat('abc'), { s: [2, 1] }), /spans\.s/);
  assert.throws(() => locateChatSpans(llama, chat('abc'), { s: [0, 9] }), /past the end/);
});

test('tokenSpan: a token belongs when its range overlaps the span', () => {
  const offsets: Span[] = [
    [0, 0],
    [0, 3],
    [3, 5],
    [5, 9],
    [9, 10],
  ];
  assert.deepEqual(tokenSpan(offsets, 4, 6), [2, 4]);
  assert.deepEqual(tokenSpan(offsets, 3, 5), [2, 3]);
  assert.throws(() => tokenSpan(offsets, 10, 12), InputError);
});

test("continueFinalMessage: the response span runs to the end of transformers' continued rendering", () => {
  for (const name of ['llama3', 'gemma']) {
    const chat = (
      expected[name].chats as {
        messages: ChatMessage[];
        continue_final_message?: boolean;
        rendered: string;
        ids: number[];
      }[]
    ).find((c) => c.continue_final_message)!;
    const got = locateChatSpans(
      loadTokenizer(join(FIXTURES, name)),
      chat.messages,
      { s: [2, 7] },
      { continueFinalMessage: true },
    );
    assert.equal(got.text, chat.rendered);
    assert.deepEqual(got.ids, chat.ids);
    assert.equal(got.response[1], chat.ids.length);
    assert.equal(got.text.slice(...got.chars.s), 'First');
  }
});
