// Cached calibrations are read back like any file from disk: only this feature's, under these bisection
// settings, with a finite threshold inside their range and a history of scores in 0–100 is used; anything
// else (garbage, `{}`, edited numbers, another feature's) is reported and calibrated again.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_BISECTION } from '../../lib/experiments/bisection.ts';
import { readCachedCalibration } from '../../lib/experiments/calibrate.ts';

test('a cached calibration is used only when it passes its checks; otherwise the reason is given', () => {
  const dir = mkdtempSync(join(tmpdir(), 'calibration-cache-'));
  const settings = { ...DEFAULT_BISECTION, lo: 0, hi: 8, priorMean: 4, priorSd: 2, target: 0.3 };
  const good = { feature: 17, threshold: 2.5, settings, history: [{ boost: 4, scores: [30, null] }] };
  const read = (content: unknown) => {
    const file = join(dir, 'c.json');
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    return readCachedCalibration(file, 17, settings);
  };
  assert.deepEqual(read(good), good);
  const cases: [unknown, RegExp][] = [
    ['{"feature": 17, "thresh', /^not JSON/],
    [{}, /^feature undefined, expected 17$/],
    [[good], /^not a calibration object$/],
    [{ ...good, feature: 40 }, /^feature 40, expected 17$/],
    [{ ...good, settings: { ...settings, hi: 9 } }, /^other bisection settings$/],
    [{ ...good, threshold: 1e9 }, /^threshold 1000000000, expected a number in \[0, 8\]$/],
    [{ ...good, threshold: '2.5' }, /^threshold "2\.5"/],
    [{ ...good, history: [{ boost: 4, scores: [150] }] }, /^history is not a list/],
    [{ ...good, history: 'x' }, /^history is not a list/],
  ];
  for (const [content, why] of cases) assert.match(String(read(content)), why, JSON.stringify(content));
});
