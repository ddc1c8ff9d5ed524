// The shipped default: the model, SAE, prompts and general text in data/. Its prompts, general text and
// overrides apply only when the shipped model and SAE are the ones in use (tables' `shipped` values).
import { join, relative, resolve } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** The shipped default model, SAE and prompts (absolute, so commands work from any directory). */
export const SHIPPED = {
  model: join(ROOT, 'data', 'model'),
  sae: join(ROOT, 'data', 'sae'),
  prompts: join(ROOT, 'data', 'prompts.txt'),
  /** General text for the steering pool's "alive" test (one passage per line). */
  generalText: join(ROOT, 'data', 'corpus', 'general.txt'),
};

/** Whether these paths name the shipped model and SAE, however written (relative, trailing slash). */
export function isShippedDefault(paths: { model: string; sae: string }): boolean {
  return resolve(paths.model) === SHIPPED.model && resolve(paths.sae) === SHIPPED.sae;
}

/** A shipped file as the docs write it (`data/model`); any other path as given. */
export function shownPath(path: string): string {
  return Object.values(SHIPPED).includes(path) ? relative(ROOT, path) : path;
}
