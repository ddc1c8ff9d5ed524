// Hostile and malformed inputs: each is an InputError naming the file or flag (exit 2 from the CLI), raised
// before any work, with nothing written. The hostile files are generated here (binary and non-UTF-8 text,
// lines of megabytes, JSON cut short among them).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { readGeneralText, readPrompts, readResponses } from '../../lib/io/inputs.ts';
import { readFeatureLabels, readFeatures } from '../../lib/experiments/features.ts';
import yargs from 'yargs';
import { addCommands } from '../../analyses/commands.ts';
import { backendOption } from '../../lib/cli/options.ts';
import { exitCodeFor, flagOf, InputError, SettingError } from '../../lib/errors.ts';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { openTorchStateDict } from '../../lib/io/torch.ts';
import { zipBytes } from '../helpers/zip.ts';
import { assertExit, runCli } from '../support/cli.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');
const FIX = join(ROOT, 'test', 'fixtures');
const MODEL = join(FIX, 'models', 'llama3-gqa');
const tmp = mkdtempSync(join(tmpdir(), 'inputs-'));

const inputError = (pattern: RegExp) => (e: Error) => e instanceof InputError && pattern.test(e.message);

function safetensors(name: string, header: unknown, dataBytes = 16): string {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(tmp, name);
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return path;
}

test('safetensors: null header, null or shapeless entries, negative and overlapping data_offsets', () => {
  const f32 = (b: number, e: number, shape = [(e - b) / 4]) => ({ dtype: 'F32', shape, data_offsets: [b, e] });
  const cases: [unknown, RegExp][] = [
    [null, /header: expected a JSON object, found null/],
    [[1, 2], /header: expected a JSON object/],
    [{ w: null }, /tensor w: expected an object \{dtype, shape, data_offsets\}, found null/],
    [
      { w: { dtype: 'F32', data_offsets: [0, 4] } },
      /tensor w: shape: expected a list of non-negative integers, found undefined/,
    ],
    [
      { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } },
      /tensor w: shape: expected a list of non-negative integers/,
    ],
    [{ w: { dtype: 7, shape: [1], data_offsets: [0, 4] } }, /tensor w: unknown dtype 7/],
    [
      { w: f32(-8, -4, [1]) },
      /tensor w: data_offsets: expected \[begin, end\] of non-negative integers, found \[-8,-4\]/,
    ],
    [{ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, /data_offsets: expected \[begin, end\]/],
    [{ a: f32(0, 12), b: f32(8, 16) }, /tensors a and b: data_offsets overlap \(\[0,12\] and \[8,16\]\)/],
    [{ __metadata__: 'x', w: f32(0, 4) }, /__metadata__: expected an object of strings/],
  ];
  cases.forEach(([header, pattern], i) => {
    const path = safetensors(`bad${i}.safetensors`, header);
    assert.throws(() => new SafetensorsFile(path), inputError(pattern), JSON.stringify(header));
  });
});

/** A torch.save zip whose data.pkl is `pickle` (protocol 2 opcodes). */
function torchFile(name: string, pickle: Buffer): string {
  const path = join(tmp, name);
  writeFileSync(
    path,
    zipBytes([
      { name: 'archive/data.pkl', data: pickle },
      { name: 'archive/byteorder', data: Buffer.from('little') },
    ]),
  );
  return path;
}
const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  const n = Buffer.alloc(4);
  n.writeUInt32LE(b.length);
  return Buffer.concat([Buffer.from('X'), n, b]);
};

test('.pth: a garbage persistent id and a bare _rebuild_tensor_v2() are InputErrors, not TypeErrors', () => {
  const proto = Buffer.from([0x80, 0x02]);
  const rebuild = Buffer.from('ctorch._utils\n_rebuild_tensor_v2\n', 'latin1');
  const cases: [Buffer, RegExp][] = [
    // {'w': persistent_load(None)}
    [Buffer.concat([proto, Buffer.from('}'), str('w'), Buffer.from('NQs.')]), /malformed persistent id/],
    // {'w': persistent_load(('storage', 'x', None, 'cpu', 'many'))}
    [
      Buffer.concat([
        proto,
        Buffer.from('}'),
        str('w'),
        Buffer.from('('),
        str('storage'),
        str('x'),
        Buffer.from('N'),
        str('cpu'),
        str('many'),
        Buffer.from('tQs.'),
      ]),
      /malformed storage persistent id/,
    ],
    // {'w': _rebuild_tensor_v2()}
    [
      Buffer.concat([proto, Buffer.from('}'), str('w'), rebuild, Buffer.from(')Rs.')]),
      /tensor rebuild call with malformed arguments/,
    ],
  ];
  cases.forEach(([pkl, pattern], i) => {
    const path = torchFile(`bad${i}.pth`, pkl);
    assert.throws(() => openTorchStateDict(path), inputError(pattern));
  });
});

test('responses: {"normal_responses": null} and empty responses are refused at read', () => {
  const nul = join(tmp, 'null.json');
  writeFileSync(nul, JSON.stringify({ normal_responses: null }));
  assert.throws(
    () => readResponses(nul, ['a', 'b']),
    inputError(/normal_responses: expected an object of prompt → response, found null/),
  );
  const empty = join(tmp, 'empty.json');
  writeFileSync(empty, JSON.stringify({ a: 'fine', b: '  ' }));
  assert.throws(() => readResponses(empty, ['a', 'b']), inputError(/the response for prompt "b" is empty/));
});

/** Runs `analyze ARGS` in this process; resolves with the error it ends with (null when it succeeds). */
async function inProcess(args: string[]): Promise<Error | null> {
  try {
    await addCommands(backendOption(yargs(args)))
      .strict()
      .fail((msg, err) => {
        throw err ?? new InputError(msg);
      })
      .parseAsync();
    return null;
  } catch (err) {
    return err as Error;
  }
}

test('every bad flag, file and --out is an InputError (exit 2) naming it, with nothing written', async () => {
  const prompts = join(tmp, 'prompts.txt');
  writeFileSync(
    prompts,
    ['Explain bread.', 'Explain tea.', 'Explain rice.', 'Explain tides.', 'Explain knots.', 'Explain rain.'].join('\n'),
  );
  const emptyResponses = join(tmp, 'responses-empty.json');
  writeFileSync(
    emptyResponses,
    JSON.stringify({
      'Explain bread.': 'Flour.',
      'Explain tea.': '',
      'Explain rice.': 'Water.',
      'Explain tides.': 'Moon.',
      'Explain knots.': 'Loops.',
      'Explain rain.': 'Clouds.',
    }),
  );
  const aFile = join(tmp, 'a-file.txt');
  writeFileSync(aFile, 'x');
  const aDir = join(tmp, 'a-dir');
  mkdirSync(aDir);
  const nullHeader = safetensors('null-header.safetensors', null);
  const badPth = torchFile(
    'garbage.pth',
    Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('}'), str('w'), Buffer.from('NQs.')]),
  );
  const session = ['--model', MODEL, '--sae', join(FIX, 'sae', 'saelens_relu'), '--prompts', prompts];
  const out = (name: string) => join(tmp, 'out', name);
  const cases: { args: string[]; stderr: RegExp; out: string }[] = [
    {
      args: ['find-otd-latents', ...session, '--seed', 'abc', '--out', out('seed')],
      stderr: /--seed: expected an integer, found NaN/,
      out: out('seed'),
    },
    {
      args: ['find-otd-latents', ...session, '--max-tokens', '0', '--out', out('maxtok')],
      stderr: /--max-tokens: expected an integer ≥ 1, found 0/,
      out: out('maxtok'),
    },
    {
      args: ['find-otd-latents', ...session, '--temperature', '-1', '--out', out('temp')],
      stderr: /--temperature: expected a number ≥ 0, found -1/,
      out: out('temp'),
    },
    {
      args: ['find-otd-latents', ...session, '--holdout', '2', '--out', out('holdout')],
      stderr: /--holdout: expected a number in \(0, 1\), found 2/,
      out: out('holdout'),
    },
    {
      args: ['find-otd-latents', ...session, '--responses', emptyResponses, '--out', out('empty')],
      stderr: /the response for prompt "Explain tea\." is empty/,
      out: out('empty'),
    },
    {
      args: ['find-otd-latents', ...session, '--workers', '100000', '--out', out('workers')],
      stderr: /--workers 100000: this machine has \d+ cores/,
      out: out('workers'),
    },
    {
      args: ['find-otd-latents', ...session, '--out', aFile],
      stderr: /a-file\.txt exists and is not a directory/,
      out: '',
    },
    {
      args: [
        'capture',
        '--model',
        MODEL,
        '--sae',
        join(FIX, 'sae', 'saelens_relu'),
        '--samples',
        join(FIX, 'capture', 'samples.jsonl'),
        '--out',
        aFile,
      ],
      stderr: /a-file\.txt exists and is not a directory/,
      out: '',
    },
    {
      args: ['forward', '--model', MODEL, '--ids', '1,2,3', '--out', aDir],
      stderr: /--out .*a-dir: is a directory/,
      out: '',
    },
    {
      args: [
        'forward',
        '--model',
        MODEL,
        '--sae',
        nullHeader,
        '--codes',
        '1',
        '--ids',
        '1,2,3',
        '--out',
        out('null.safetensors'),
      ],
      stderr: /null-header\.safetensors: not a valid safetensors file: header: expected a JSON object, found null/,
      out: out('null.safetensors'),
    },
    {
      args: [
        'forward',
        '--model',
        MODEL,
        '--sae',
        badPth,
        '--codes',
        '1',
        '--ids',
        '1,2,3',
        '--out',
        out('pth.safetensors'),
      ],
      stderr: /garbage\.pth: malformed persistent id/,
      out: out('pth.safetensors'),
    },
    {
      args: ['ablate', ...session, '--latents', '5,9', '--boost', '1', '--top-p', '0', '--out', out('topp')],
      stderr: /--top-p: expected a number in \(0, 1\], found 0/,
      out: out('topp'),
    },
  ];
  for (const c of cases) {
    const err = await inProcess(c.args);
    assert.ok(err instanceof InputError, `${c.args.join(' ')}: ${err?.stack ?? 'no error'}`);
    assert.equal(exitCodeFor(err), 2);
    // what the command line prints: settings named as flags
    assert.match(err instanceof SettingError ? err.render(flagOf) : err.message, c.stderr, c.args.join(' '));
    if (c.out) assert.equal(existsSync(c.out), false, `${c.out} was written`);
  }
  // and through the real CLI: exit code 2, the message on stderr, no stack
  const r = runCli([...cases[0].args], { cwd: tmp });
  assertExit(r, 2, /^error: --seed: expected an integer, found NaN/);
  assert.deepEqual(readdirSync(aDir), []);
});

test('text inputs: NUL bytes, invalid UTF-8 and 10 MB prompt lines are refused naming the line, at read', () => {
  const file = (name: string, bytes: Buffer | string) => {
    const path = join(tmp, name);
    writeFileSync(path, bytes);
    return path;
  };
  const cases: [() => unknown, RegExp][] = [
    [
      () => readPrompts(file('nul.txt', 'Explain bread.\nExplain\0 tides.\n')),
      /nul\.txt:2: a NUL byte \(a binary file\?\)/,
    ],
    [
      () => readPrompts(file('latin1.txt', Buffer.from('Explain bread.\nExplain tides.\nCaf\xe9?\n', 'latin1'))),
      /latin1\.txt:3: not UTF-8 text \(an invalid byte sequence\); save the file as UTF-8/,
    ],
    [
      () => readPrompts(file('long.txt', `Explain bread.\n${'x'.repeat(10 << 20)}\nExplain tides.\n`)),
      /long\.txt:2: a line of 10485760 characters, more than the 100000 one prompt may have/,
    ],
    [() => readGeneralText(file('gen.bin', Buffer.from([0x41, 0x0a, 0xff, 0xfe, 0x0a]))), /gen\.bin:2: not UTF-8 text/],
    [() => readFeatureLabels(file('cut.json', '{"3": "three", "17": "sev')), /cut\.json: not JSON \(/],
    [() => readFeatures(file('cut-features.json', '[3, 17, ')), /cut-features\.json: not JSON \(/],
  ];
  for (const [read, pattern] of cases) assert.throws(read, inputError(pattern), String(pattern));
  // a byte-order mark is not part of the first prompt
  assert.deepEqual(readPrompts(file('bom.txt', '\ufeffExplain bread.\nExplain tides.\n')), [
    'Explain bread.',
    'Explain tides.',
  ]);
});

test('responses keyed by prompts named "__proto__" and "constructor" are found, never inherited', () => {
  const prompts = ['__proto__', 'constructor'];
  const json = join(tmp, 'proto-responses.json');
  writeFileSync(json, '{"__proto__": "An answer.", "constructor": "Another."}');
  assert.deepEqual(readResponses(json, prompts), ['An answer.', 'Another.']);
  const jsonl = join(tmp, 'proto-responses.jsonl');
  writeFileSync(
    jsonl,
    '{"prompt": "__proto__", "response": "An answer."}\n{"prompt": "constructor", "response": "Another."}\n',
  );
  assert.deepEqual(readResponses(jsonl, prompts), ['An answer.', 'Another.']);
  const missing = join(tmp, 'missing-responses.json');
  writeFileSync(missing, '{"__proto__": "An answer."}');
  assert.throws(() => readResponses(missing, prompts), inputError(/no response \(string\) for prompt "constructor"/));
});
