// docs/model.md's "largest model per GPU size" table is exactly what bench/forward/memory.ts computes now.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { memoryTable } from '../../bench/forward/memory.ts';

const ROOT = join(import.meta.dirname, '..', '..');

test('docs/model.md holds the memory table bench/forward/memory.ts prints', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'model.md'), 'utf8');
  const found = doc.match(/<!-- memory-table: [^\n]*-->\n([\s\S]*?)<!-- \/memory-table -->/);
  assert.ok(found, 'docs/model.md: no <!-- memory-table --> block');
  assert.equal(found[1], memoryTable(), 'regenerate it: node --import tsx bench/forward/memory.ts');
});
