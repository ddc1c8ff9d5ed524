import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer } from '../../lib/model/tokenizer.ts';
import { InputError } from '../../lib/errors.ts';

// Expected values come from transformers' AutoTokenizer (make_tokenizers.py), not from this code.
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');
const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8'));

interface Side {
  ids: number[];
  offsets: [number, number][];
  offsets_utf16: [number, number][];
}
interface Case {
  text: string;
  with_special: Side;
  plain: Side;
  decode: string;
  decode_skip_special: string;
}

for (const name of ['llama3', 'gemma']) {
  const exp = expected[name];
  const tok = loadTokenizer(join(FIXTURES, name));

  test(`${name}: vocab size, BOS and EOS ids match transformers`, () => {
    assert.equal(tok.vocabSize, 512);
    assert.equal(tok.vocabSize, exp.vocab_size);
    assert.equal(tok.bosId, exp.bos_id);
    assert.ok(tok.eosIds.includes(exp.eos_token_id));
    const gen = JSON.parse(readFileSync(join(FIXTURES, name, 'generation_config.json'), 'utf8'));
    assert.deepEqual(tok.eosIds, gen.eos_token_id);
  });

  for (const c of exp.encodings as Case[]) {
    test(`${name}: ids and offsets of ${JSON.stringify(c.text).slice(0, 40)} match transformers`, () => {
      for (const [side, addSpecialTokens] of [
        [c.with_special, true],
        [c.plain, false],
      ] as const) {
        const enc = tok.encode(c.text, { addSpecialTokens });
        assert.deepEqual(enc.ids, side.ids);
        assert.deepEqual(enc.codePointOffsets, side.offsets);
        assert.deepEqual(enc.offsets, side.offsets_utf16);
      }
      assert.equal(tok.decode(c.with_special.ids), c.decode);
      assert.equal(tok.decode(c.with_special.ids, { skipSpecialTokens: true }), c.decode_skip_special);
    });
  }
}

test('a normalizer that changes the text makes encode fail loudly instead of guessing offsets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tok-'));
  const json = JSON.parse(readFileSync(join(FIXTURES, 'llama3', 'tokenizer.json'), 'utf8'));
  json.normalizer = { type: 'Lowercase' };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  const tok = loadTokenizer(dir);
  assert.deepEqual(tok.encode('abc').ids.length > 0, true);
  assert.throws(
    () => tok.encode('Abc'),
    (e: unknown) => e instanceof InputError && /do not reproduce the input text at byte 0/.test(e.message),
  );
});

test('a missing tokenizer.json is an InputError naming the file', () => {
  assert.throws(
    () => loadTokenizer(join(FIXTURES, 'nope')),
    (e: unknown) => e instanceof InputError && /nope\/tokenizer\.json/.test(e.message),
  );
});
