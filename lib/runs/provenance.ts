// What every output records about how it was made: versions, inputs with content hashes, settings.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sha256File } from '../io/hash.ts';
import { readJson } from '../io/json.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGE_JSON = join(ROOT, 'package.json');

export function packageVersion(): string {
  return readJson(PACKAGE_JSON).version;
}

interface DirProvenance {
  path: string;
  files: Record<string, string>;
}

/** The sha256 of every config, tokenizer and weight file of a directory. */
function dirProvenance(dir: string): DirProvenance {
  const files: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    if (/\.(json|safetensors|jinja)$/.test(f) && !f.startsWith('expected')) files[f] = sha256File(join(dir, f)).sha256;
  }
  return { path: dir, files };
}

/** A checkpoint directory's identity (and its LoRA adapter's, when one is applied): paths and file hashes. */
export function modelProvenance(dir: string, adapter?: string | null): DirProvenance & { adapter?: DirProvenance } {
  return adapter ? { ...dirProvenance(dir), adapter: dirProvenance(adapter) } : dirProvenance(dir);
}

/** The environment a run happened in. */
export function runtimeProvenance(backend: string | null): Record<string, unknown> {
  return {
    package: 'esr-toolkit',
    version: packageVersion(),
    node: process.version,
    backend,
    tfjs: existsSync(PACKAGE_JSON) ? tfjsVersion() : null,
  };
}

function tfjsVersion(): string | null {
  const p = join(ROOT, 'node_modules', '@tensorflow', 'tfjs', 'package.json');
  return existsSync(p) ? readJson(p).version : null;
}
