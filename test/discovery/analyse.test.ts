// lib/discovery/analyse.ts reads the store's codes once (selection, stability and the held-out AUCs all use
// one pooling), and its selection equals findDetectors' on the same store.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyseStore } from '../../lib/discovery/analyse.ts';
import { findDetectors } from '../../lib/stats/detectors.ts';
import { openStore } from '../../lib/store/reader.ts';
import { writePlantedStore } from '../fixtures/plot/store.ts';

test('analyseStore pools the store once, with or without a holdout, and selects as findDetectors does', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'analyse-')), 'planted.acts');
  await writePlantedStore(dir);
  const store = openStore(dir);
  let passes = 0;
  const counting = {
    ...store,
    codeBatches: () => {
      passes++;
      return store.codeBatches();
    },
  };
  const plain = await analyseStore(counting, { find: {} });
  assert.equal(passes, 1);
  assert.deepEqual(plain.latentSet.selected, (await findDetectors(store)).latentSet.selected);
  passes = 0;
  const held = await analyseStore(counting, { find: {}, holdout: { fraction: 0.25, seed: 3 } });
  assert.equal(passes, 1);
  assert.ok(held.holdout && held.holdout.split.heldOut.length === 2, 'two of the 8 prompts held out');
  assert.equal(held.holdout.stats.auc[3], 1);
});
