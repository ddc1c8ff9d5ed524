// data/MANIFEST.sha256 (written by `data/make_default.py --manifest`, checked by `--verify` after a rebuild)
// names every file a build ships, and each shipped file still has the listed hash: a hand edit of data/, or a
// rebuild without a new manifest, fails here. Hashes are recomputed with node:crypto, not read from the generator.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const DATA = join(import.meta.dirname, '..', '..', 'data');
// What make_default.py ships: directories file by file, and the drift subspace's basis file where the language's
// ground truth (organism.json) names one.
const drift = JSON.parse(readFileSync(join(DATA, 'organism.json'), 'utf8')).drift_subspace;
const SHIPPED = [
  'model',
  'sae',
  'corpus',
  'prompts.txt',
  'heldout_prompts.txt',
  'summary.json',
  'organism.json',
  ...(drift ? [drift.basis_file as string] : []),
];

function files(rel: string): string[] {
  const abs = join(DATA, rel);
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs)
    .sort()
    .flatMap((f) => files(`${rel}/${f}`));
}

test('MANIFEST.sha256 lists exactly the shipped files, in sha256sum format, with their current hashes', () => {
  const lines = readFileSync(join(DATA, 'MANIFEST.sha256'), 'utf8').trimEnd().split('\n');
  const listed = new Map<string, string>();
  for (const line of lines) {
    const m = /^([0-9a-f]{64}) {2}(\S+)$/.exec(line);
    assert.ok(m, `not a sha256sum line: ${JSON.stringify(line)}`);
    listed.set(m[2], m[1]);
  }
  assert.deepEqual([...listed.keys()].sort(), SHIPPED.flatMap(files).sort());
  for (const [file, hash] of listed) {
    const actual = createHash('sha256')
      .update(readFileSync(join(DATA, file)))
      .digest('hex');
    assert.equal(actual, hash, `data/${file} changed since the manifest was written (make_default.py --manifest)`);
  }
});
