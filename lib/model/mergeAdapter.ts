// A merged checkpoint: the base checkpoint with a LoRA adapter folded into its weights, written in the base's
// own layout (same files, shards, tensor names and dtypes), so transformers, vLLM or this toolkit load it as
// any Hugging Face checkpoint. Changed tensors are computed in f32 and rounded once to their stored dtype.
import { copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { fromFloat32, toFloat32 } from '../io/dtype.ts';
import { sha256File } from '../io/hash.ts';
import { readJsonObject } from '../io/json.ts';
import { SafetensorsFile, type StreamedTensor, writeSafetensorsStreamed } from '../io/safetensors.ts';
import { ADAPTER_WEIGHTS, loadAdapter } from './adapter.ts';
import { loadModelConfig } from './config.ts';

/** Files of a checkpoint directory that hold weights in other formats: never copied into the merged one. */
const OTHER_WEIGHTS = /\.(safetensors|bin|pt|pth|gguf|h5|msgpack|ckpt)$/;

export interface MergeResult {
  out: string;
  files: string[];
  changed: string[];
}

/** The safetensors files that make up a checkpoint: model.safetensors, or the shards its index names. */
function weightFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    const map = readJsonObject(index).weight_map as Record<string, string> | undefined;
    if (!map) throw new InputError(`${index}: field weight_map is missing`);
    return [...new Set(Object.values(map))].sort();
  }
  if (existsSync(join(dir, 'model.safetensors'))) return ['model.safetensors'];
  throw new InputError(`${dir}: no model.safetensors or model.safetensors.index.json`);
}

const sameDir = (a: string, b: string) => existsSync(a) && existsSync(b) && realpathSync(a) === realpathSync(b);

/** Writes `modelDir` with the adapter at `adapterDir` merged into `outDir` (created; files there are replaced). */
export function mergeAdapter(modelDir: string, adapterDir: string, outDir: string): MergeResult {
  const config = loadModelConfig(modelDir);
  const adapter = loadAdapter(adapterDir, config);
  for (const dir of [modelDir, adapterDir])
    if (sameDir(dir, outDir)) throw new InputError(`--merge-adapter ${outDir}: is the input directory ${dir}`);
  if (existsSync(outDir) && !statSync(outDir).isDirectory())
    throw new InputError(`--merge-adapter ${outDir}: exists and is not a directory`);
  const provenance = {
    merged_adapter: resolve(adapterDir),
    adapter_sha256: sha256File(join(adapterDir, ADAPTER_WEIGHTS)).sha256,
    base_model: resolve(modelDir),
  };
  const files = weightFiles(modelDir);
  const names = new Set<string>();
  for (const name of files) {
    const f = new SafetensorsFile(join(modelDir, name));
    f.names().forEach((n) => names.add(n));
    f.close();
  }
  adapter.checkNames((t) => names.has(t));
  mkdirSync(outDir, { recursive: true });
  const changed: string[] = [];
  for (const name of files) {
    const src = new SafetensorsFile(join(modelDir, name));
    try {
      const tensors: StreamedTensor[] = src
        .names()
        .sort((a, b) => src.info(a).begin - src.info(b).begin)
        .map((tensor) => {
          const { dtype, shape } = src.info(tensor);
          const bytes = () => {
            const raw = src.readBytes(tensor);
            if (!adapter.changes(tensor)) return raw;
            changed.push(tensor);
            const w = adapter.apply(tensor, toFloat32(raw, dtype, `${src.path}: tensor ${tensor}`), shape);
            return fromFloat32(w, dtype, `${src.path}: tensor ${tensor}`);
          };
          return { name: tensor, dtype, shape, bytes };
        });
      // transformers refuses safetensors files whose metadata lacks format "pt"
      writeSafetensorsStreamed(join(outDir, name), tensors, { ...src.metadata, format: 'pt', ...provenance });
    } finally {
      src.close();
    }
  }
  for (const f of readdirSync(modelDir)) {
    const path = join(modelDir, f);
    if (statSync(path).isFile() && !OTHER_WEIGHTS.test(f)) copyFileSync(path, join(outDir, f));
  }
  return { out: outDir, files, changed: changed.sort() };
}
