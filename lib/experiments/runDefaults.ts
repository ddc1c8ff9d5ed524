// Per-SAE defaults for `ablate`: an SAE directory may carry `esr_defaults.json` naming the steering layer,
// the layer the ablation clamps act at, and a labels file for its latents (the shipped organism does).
// Flags always win; without the file the defaults are the paper's (steer and clamp at the feature layer).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { shown } from '../io/json.ts';

const RUN_DEFAULTS_FILE = 'esr_defaults.json';

export interface RunDefaults {
  /** Where the values came from (the file), for logs and provenance. */
  source: string;
  steerLayer: number | null;
  clampLayer: number | null;
  /** Absolute path of a feature-labels file (JSON {"<index>": label}, Neuronpedia export, or index,label lines). */
  featureLabels: string | null;
}

const layerField = (v: unknown, path: string, field: string): number | null => {
  if (v === undefined || v === null) return null;
  if (!(Number.isInteger(v) && (v as number) >= 0))
    throw new InputError(`${path}: ${field}: expected a layer index (integer ≥ 0), found ${shown(v)}`);
  return v as number;
};

/** The defaults file beside an SAE (directory, or a file inside one); null when there is none. */
export function readRunDefaults(sae: string): RunDefaults | null {
  const dir = existsSync(sae) && statSync(sae).isDirectory() ? sae : dirname(sae);
  const path = join(dir, RUN_DEFAULTS_FILE);
  if (!existsSync(path)) return null;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InputError(`${path}: not JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new InputError(`${path}: expected a JSON object`);
  const labels = json.feature_labels;
  if (labels !== undefined && labels !== null && typeof labels !== 'string')
    throw new InputError(`${path}: feature_labels: expected a file name, found ${shown(labels)}`);
  const featureLabels = typeof labels === 'string' ? resolve(dir, labels) : null;
  if (featureLabels !== null && !existsSync(featureLabels))
    throw new InputError(`${path}: feature_labels: ${featureLabels} not found`);
  return {
    source: path,
    steerLayer: layerField(json.steer_layer, path, 'steer_layer'),
    clampLayer: layerField(json.clamp_layer, path, 'clamp_layer'),
    featureLabels,
  };
}
