// scripts/check-cycles.ts: file-level cycles (dpdm) and loops between the folders of lib/, on small
// hand-made dependency trees, and on the project itself parsed from disk.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { findCycles, folderOf, loops, projectTree } from '../../scripts/check-cycles.ts';

test('folderOf: lib/<folder> or lib/<file>; nothing outside lib/', () => {
  assert.equal(folderOf('lib/stats/tests.ts'), 'lib/stats');
  assert.equal(folderOf('lib/sae/formats/npz.ts'), 'lib/sae');
  assert.equal(folderOf('lib/errors.ts'), 'lib/errors');
  assert.equal(folderOf('analyses/ablate.ts'), null);
  assert.equal(folderOf('test/x.test.ts'), null);
});

test('loops: only strongly connected groups of two or more, sorted', () => {
  const g = new Map<string, Set<string>>([
    ['a', new Set(['b'])],
    ['b', new Set(['c'])],
    ['c', new Set(['a', 'd'])],
    ['d', new Set(['e'])],
    ['e', new Set(['d'])],
    ['f', new Set(['a'])],
  ]);
  assert.deepEqual(loops(g), [
    ['a', 'b', 'c'],
    ['d', 'e'],
  ]);
  assert.deepEqual(loops(new Map([['a', new Set(['b'])]])), []);
});

function project(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cycles-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('a type-only import counts: file cycles and folder loops are both found, with the imports that make them', async () => {
  const root = project({
    'lib/store/reader.ts': "import type { Batch } from '../stats/sparse.ts';\nexport const read = (b: Batch) => b;\n",
    'lib/stats/sparse.ts': 'export type Batch = number[];\n',
    'lib/stats/detectors.ts': "import { read } from '../store/reader.ts';\nexport const d = read;\n",
    'lib/experiments/run.ts':
      "import { summary } from './summary.ts';\nexport interface Options { n: number }\nexport const run = summary;\n",
    'lib/experiments/summary.ts':
      "import type { Options } from './run.ts';\nexport const summary = (o: Options) => o.n;\n",
    'analyses/a.ts': "import { run } from '../../lib/experiments/run.ts';\nexport default run;\n",
  });
  const r = findCycles(await projectTree(root));
  assert.deepEqual(r.files, [['lib/experiments/run.ts', 'lib/experiments/summary.ts']]);
  assert.deepEqual(
    r.folders.map((f) => f.folders),
    [['lib/stats', 'lib/store']],
  );
  assert.deepEqual(r.folders[0].imports, [
    'lib/stats → lib/store (lib/stats/detectors.ts → lib/store/reader.ts)',
    'lib/store → lib/stats (lib/store/reader.ts → lib/stats/sparse.ts)',
  ]);
});

test('a layered project has no cycles', async () => {
  const root = project({
    'lib/io/read.ts': 'export const read = () => 1;\n',
    'lib/stats/a.ts': "import { read } from '../io/read.ts';\nexport const a = read;\n",
    'lib/stats/b.ts': "import { a } from './a.ts';\nexport const b = a;\n",
    'analyses/x.ts': "import { b } from '../../lib/stats/b.ts';\nexport default b;\n",
  });
  assert.deepEqual(findCycles(await projectTree(root)), { files: [], folders: [] });
});
