import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { applyChatTemplate, renderChat, type ChatMessage } from '../../lib/model/chat.ts';
import { InputError } from '../../lib/errors.ts';

// Expected strings and ids come from transformers' apply_chat_template (make_tokenizers.py).
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));

interface Chat {
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  continue_final_message?: boolean;
  rendered?: string;
  ids?: number[];
  error?: string;
}

for (const name of ['llama3', 'gemma']) {
  const tok = loadTokenizer(join(FIXTURES, name));
  (expected[name].chats as Chat[]).forEach((chat, i) => {
    test(`${name}: chat ${i} (generation prompt ${chat.add_generation_prompt}) matches apply_chat_template`, () => {
      const opts = {
        addGenerationPrompt: chat.add_generation_prompt,
        continueFinalMessage: chat.continue_final_message,
      };
      assert.equal(renderChat(tok, chat.messages, opts), chat.rendered);
      assert.deepEqual(applyChatTemplate(tok, chat.messages, opts), chat.ids);
    });
  });
}

test('continueFinalMessage with addGenerationPrompt is an InputError', () => {
  const tok = loadTokenizer(join(FIXTURES, 'llama3'));
  assert.throws(
    () => renderChat(tok, [{ role: 'user', content: 'a' }], { continueFinalMessage: true, addGenerationPrompt: true }),
    InputError,
  );
});

test('system option equals a leading system message', () => {
  const tok = loadTokenizer(join(FIXTURES, 'llama3'));
  const user = [{ role: 'user', content: 'Hi' }];
  assert.equal(
    renderChat(tok, user, { system: 'Be brief.' }),
    renderChat(tok, [{ role: 'system', content: 'Be brief.' }, ...user]),
  );
});

test('gemma template rejects non-alternating roles with an InputError', () => {
  const tok = loadTokenizer(join(FIXTURES, 'gemma'));
  const msgs = [
    { role: 'user', content: 'a' },
    { role: 'user', content: 'b' },
  ];
  assert.throws(
    () => renderChat(tok, msgs),
    (e: unknown) => e instanceof InputError && /alternate/.test(e.message),
  );
});

test('bad messages are an InputError naming the entry', () => {
  const tok = loadTokenizer(join(FIXTURES, 'llama3'));
  assert.throws(() => renderChat(tok, [{ role: 'user' } as ChatMessage]), /messages\[0\]/);
  assert.throws(() => renderChat(tok, []), InputError);
});
