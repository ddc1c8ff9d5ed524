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

/** A checkpoint directory's identity: its path and the sha256 of every config, tokenizer and weight file. */
export function modelProvenance(dir: string): { path: string; files: Record<string, string> } {
  const files: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    if (/\.(json|safetensors|jinja)$/.test(f) && !f.startsWith('expected')) files[f] = sha256File(join(dir, f)).sha256;
  }
  return { path: dir, files };
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
