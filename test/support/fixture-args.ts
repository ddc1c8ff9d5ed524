// Command lines on the small test fixtures that several CLI tests run.
import { join } from 'node:path';
import { ROOT } from './cli.ts';

const FIX = join(ROOT, 'test', 'fixtures');

/** `analyze capture` of the capture fixture's samples (or `samples`) on the tiny Llama-3 (GQA) and a ReLU SAE at layer 1. */
export const fixtureCaptureArgs = (samples = join(FIX, 'capture', 'samples.jsonl')): string[] => [
  'capture',
  '--model',
  join(FIX, 'models', 'llama3-gqa'),
  '--sae',
  join(FIX, 'sae', 'saelens_relu'),
  '--layer',
  '1',
  '--samples',
  samples,
];
