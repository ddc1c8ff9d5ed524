// Every `import { … } from './lib/…'` shown in README.md and docs/*.md names a module that exists and
// names it exports, so code copied from the docs runs (checked on the source text, no module is loaded).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { DOC_FILES } from '../support/docs.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Whether `file` exports `name`: declared, listed in an export clause, or re-exported from another module. */
function exportsName(file: string, name: string, seen = new Set<string>()): boolean {
  if (seen.has(file) || !existsSync(file)) return false;
  seen.add(file);
  const src = readFileSync(file, 'utf8');
  if (
    new RegExp(
      `export\\s+(?:default\\s+)?(?:declare\\s+)?(?:async\\s+)?(?:function\\*?|const|let|var|class|interface|type|enum)\\s+${name}\\b`,
    ).test(src)
  )
    return true;
  for (const m of src.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}(?:\s+from\s+'([^']+)')?/g)) {
    const names = m[1].split(',').map((s) =>
      s
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .at(-1),
    );
    if (names.includes(name)) return true;
  }
  for (const m of src.matchAll(/export\s+\*\s+from\s+'([^']+)'/g))
    if (exportsName(resolve(dirname(file), m[1]), name, seen)) return true;
  return false;
}

test('imports shown in the docs name existing modules and their exports', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const doc of DOC_FILES) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    for (const m of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'(\.{1,2}\/[^']+)'/g)) {
      const file = resolve(ROOT, m[2].replace(/^\.\.\//, './'));
      checked++;
      if (!existsSync(file)) {
        problems.push(`${doc}: ${m[2]} does not exist`);
        continue;
      }
      for (const raw of m[1].split(',')) {
        const name = raw
          .trim()
          .replace(/^type\s+/, '')
          .split(/\s+as\s+/)[0];
        if (name && !exportsName(file, name)) problems.push(`${doc}: ${m[2]} does not export ${name}`);
      }
    }
  }
  assert.ok(checked > 0, 'no import lines found in the docs');
  assert.deepEqual(problems, []);
});
