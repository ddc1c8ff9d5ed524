// The response files finetune-data reads: every accepted layout gives the same prompts and responses; bad ones are
// refused naming the file and what is wrong.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readAnswers } from '../../lib/finetune/answers.ts';
import { readCorrections } from '../../lib/finetune/corrections.ts';

const tmp = mkdtempSync(join(tmpdir(), 'esr-answers-'));
const file = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};
const want = { prompts: ['P1', 'P2'], answers: [['a1', 'a1b'], ['a2']] };

test('JSON maps, the paper’s normal_responses.json, JSONL with several lines per prompt, and run files', () => {
  assert.deepEqual(readAnswers(file('m.json', JSON.stringify({ P1: ['a1', 'a1b'], P2: 'a2' })), null), want);
  assert.deepEqual(
    readAnswers(
      file('n.json', JSON.stringify({ prompts: ['P1', 'P2'], normal_responses: { P1: 'a1', P2: 'a2' } })),
      null,
    ),
    { prompts: ['P1', 'P2'], answers: [['a1'], ['a2']] },
  );
  const lines = [
    '{"prompt":"P1","response":"a1"}',
    '{"prompt":"P2","answer":" a2 "}',
    '',
    '{"prompt":"P1","response":"a1b"}',
  ];
  assert.deepEqual(readAnswers(file('l.jsonl', lines.join('\n')), null), want);
  // find-otd-latents' responses.json: a list in the order of the prompts given
  const otd = file('otd.json', JSON.stringify({ key: 'k', value: ['a1', 'a2'] }));
  assert.deepEqual(readAnswers(otd, ['P1', 'P2']), { prompts: ['P1', 'P2'], answers: [['a1'], ['a2']] });
  assert.throws(() => readAnswers(otd, null), /lists responses without their prompts; give --prompts/);
  assert.deepEqual(readAnswers(file('ft.json', JSON.stringify({ key: 'k', value: want })), ['P2', 'P1']), {
    prompts: ['P2', 'P1'],
    answers: [['a2'], ['a1', 'a1b']],
  });
});

test('missing prompts, empty responses, arrays and unreadable lines are refused', () => {
  assert.throws(
    () => readAnswers(file('a.json', '{"P1": "x", "P2": "y"}'), ['P3', 'P1']),
    /no response for prompt "P3"/,
  );
  assert.throws(
    () => readAnswers(file('b.json', '{"P1": "", "P2": "y"}'), null),
    /response for "P1" must be a non-empty string/,
  );
  assert.throws(() => readAnswers(file('c.json', '[1, 2]'), null), /expected a JSON object/);
  assert.throws(
    () => readAnswers(file('d.jsonl', '{"prompt":"P1","response":"x"}\nnot json'), null),
    /d\.jsonl:2: neither/,
  );
  assert.throws(() => readAnswers(file('e.json', '{"P1": "x"}'), null), /1 prompt\(s\); distractions need at least 2/);
  assert.throws(() => readAnswers(join(tmp, 'none.json'), null), /--responses .*none\.json: file not found/);
});

test('response and correction files that are not UTF-8 text (a NUL byte, invalid bytes) are refused naming the line', () => {
  const nul = file('nul.jsonl', '{"prompt": "P1", "response": "a1"}\n{"prompt": "P2", "response": "a\u00002"}\n');
  assert.throws(() => readAnswers(nul, null), /nul\.jsonl:2: a NUL byte/);
  const latin1 = join(tmp, 'latin1.txt');
  writeFileSync(
    latin1,
    Buffer.concat([Buffer.from('Back to the point.\nEntschuldigung, zur'), Buffer.from([0xfc]), Buffer.from('ck.\n')]),
  );
  assert.throws(() => readCorrections(latin1), /latin1\.txt:2: not UTF-8 text/);
  assert.deepEqual(readCorrections(file('ok.txt', ' Back to the point. \n\nAnyway.\n')), [
    'Back to the point.',
    'Anyway.',
  ]);
});
