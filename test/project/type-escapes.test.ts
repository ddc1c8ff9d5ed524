// No type escapes (`as any`, `as never`) in lib/ and analyses/: the seams with d3, Arrow and the
// other libraries are typed instead. An escape that appears is listed.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');
const MAX_ESCAPES = 0;
const ESCAPE = /\bas (any|never)\b/g;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test(`lib/ and analyses/ hold no more than ${MAX_ESCAPES} type escapes`, () => {
  const found = ['lib', 'analyses'].flatMap((d) =>
    sources(join(ROOT, d)).flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (line.match(ESCAPE) ?? []).map(() => `${relative(ROOT, f)}:${i + 1}: ${line.trim()}`)),
    ),
  );
  assert.ok(found.length <= MAX_ESCAPES, `${found.length} type escapes:\n${found.join('\n')}`);
});

test('the pattern finds an escape and nothing else', () => {
  assert.equal('const x = y as any; z as never; as anything; has any'.match(ESCAPE)?.length, 2);
});
