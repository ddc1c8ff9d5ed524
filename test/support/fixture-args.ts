// Command lines on the small test fixtures that several CLI tests run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

const FIX = join(ROOT, 'test', 'fixtures');
/** The tiny Llama-3 (GQA) model fixture and the ReLU SAE fixture read at its layer 1. */
export const FIXTURE_MODEL = join(FIX, 'models', 'llama3-gqa');
export const FIXTURE_SAE = join(FIX, 'sae', 'saelens_relu');

/** `--model` and `--sae` the two fixtures above: the session most CLI tests run on. */
export const FIXTURE_SESSION_ARGS: readonly string[] = ['--model', FIXTURE_MODEL, '--sae', FIXTURE_SAE];

/** A `--features` CSV in `dir` of three of the fixture SAE's latents, two of them labelled; returns its path. */
export function writeFixtureFeatures(dir: string): string {
  const path = join(dir, 'features.csv');
  writeFileSync(path, 'index,label\n3,three\n17\n40,forty\n');
  return path;
}

/** `analyze ablate` on the shipped organism at small but complete settings (sampled features, calibration,
 * paired conditions), for the sharding tests that compare a merged run with an unsharded one. */
export const organismAblateArgs = (conditions: string, ...extra: string[]): string[] => [
  'ablate',
  '--latents',
  '5,9,17,40',
  '--n-features',
  '3',
  '--trials-per-feature',
  '2',
  '--max-tokens',
  '16',
  '--conditions',
  conditions,
  ...extra,
  '--calibrate-steps',
  '1',
  '--resamples',
  '200',
  '--judge',
  'heuristic',
];

/** `analyze capture` of the capture fixture's samples (or `samples`) on the fixture session at layer 1. */
export const fixtureCaptureArgs = (samples = join(FIX, 'capture', 'samples.jsonl')): string[] => [
  'capture',
  ...FIXTURE_SESSION_ARGS,
  '--layer',
  '1',
  '--samples',
  samples,
];
