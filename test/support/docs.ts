// The user-facing documents the project tests check: README.md and every docs/*.md.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.ts';

export const DOC_FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
