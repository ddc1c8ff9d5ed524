// The docs' options tables are generated from the commands' settings tables (scripts/settings-docs.ts):
// each generated block in the docs must equal what the tables give now.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { regenerated, SETTINGS_DOCS } from '../../scripts/settings-docs.ts';
import { flagOf } from '../../lib/errors.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test('every options table in the docs is what its settings table gives (npm run docs:settings rewrites them)', () => {
  for (const file of new Set(SETTINGS_DOCS.map((d) => d.file))) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    assert.equal(regenerated(text, file), text, `${file}: run npm run docs:settings`);
  }
});

test('every generated block names a table, and lists every visible flag of it', () => {
  for (const { file, name, table } of SETTINGS_DOCS) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const start = text.indexOf(`<!-- settings: ${name} `);
    assert.ok(start >= 0, `${file}: no block for ${name}`);
    const block = text.slice(start, text.indexOf('<!-- /settings -->', start));
    for (const [setting, s] of Object.entries(table))
      if (!s.hidden) assert.ok(block.includes(`| \`${flagOf(setting)}\` |`), `${file}: ${flagOf(setting)} missing`);
  }
});
