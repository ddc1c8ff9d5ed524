// Command lines on the small test fixtures that several CLI tests run.
import { join } from 'node:path';
import { ROOT } from './cli.ts';

const FIX = join(ROOT, 'test', 'fixtures');

/** `--model` the tiny Llama-3 (GQA) and `--sae` the ReLU SAE fixture: the session most CLI tests run on. */
export const FIXTURE_SESSION_ARGS: readonly string[] = [
  '--model',
  join(FIX, 'models', 'llama3-gqa'),
  '--sae',
  join(FIX, 'sae', 'saelens_relu'),
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
