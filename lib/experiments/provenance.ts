// An ablation's provenance, built once: its inputs with content hashes, config.json's settings record (its
// sha256 is the run id), what a calibration's cache key depends on, and the record every trial carries.
import { sha256Text } from '../io/hash.ts';
import { modelProvenance, runtimeProvenance } from '../runs/provenance.ts';
import { type HookPoint, hookName } from '../model/hooks.ts';
import type { Session } from '../session.ts';
import { recordSettings } from '../settings/table.ts';
import type { AblationOptions } from './config.ts';
import { STEERING_POOL_RULE } from './features.ts';
import { ABLATION_SETTINGS } from './settings.ts';

export interface AblationProvenance {
  /** Model, SAE and prompts with content hashes; the chat template's hash. */
  inputs: Record<string, unknown>;
  /** config.json's `config`: every setting that changes the results (its sha256 is the run id). */
  config: Record<string, unknown>;
  /** What a calibration depends on besides its own settings (its cache key). */
  calibration: Record<string, unknown>;
  /** The provenance every trial of the run `run` carries (besides its own seed, prompt and level). */
  trial(run: string): Record<string, unknown>;
}

/** Per-condition settings in config.json: each applying to one condition is null where that condition does not run. */
function conditionSettings(o: AblationOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const values: Record<string, unknown> = o.settings.values;
  for (const [name, s] of Object.entries(ABLATION_SETTINGS)) {
    const r = s.requires;
    if (!r || !('includes' in r) || r.includes[0] !== 'conditions' || s.key === null) continue;
    out[s.key] = (o.conditions as string[]).includes(r.includes[1]) ? values[name] : null;
  }
  return out;
}

function featuresRecord(o: AblationOptions): unknown {
  if (Array.isArray(o.features)) return o.features;
  const { sample, labels, generalText } = o.features;
  return {
    sample,
    pool_rule: STEERING_POOL_RULE,
    feature_labels: labels ? { path: labels.path, sha256: sha256Text(JSON.stringify([...labels.labels])) } : null,
    general_text: { path: generalText.path, sha256: sha256Text(JSON.stringify(generalText.texts)) },
  };
}

/** Where the run reads, steers and clamps: hook names, beside the blocks (the numeric fields older runs have). */
function hookFields(feature: HookPoint, o: Pick<AblationOptions, 'steerHook' | 'clampHook'>) {
  return {
    feature_layer: feature.layer,
    feature_hook: hookName(feature),
    steer_layer: o.steerHook.layer,
    steer_hook: hookName(o.steerHook),
    clamp_layer: o.clampHook.layer,
    clamp_hook: hookName(o.clampHook),
  };
}

export function ablationProvenance(session: Session, o: AblationOptions): AblationProvenance {
  const { sae, tokenizer } = session;
  const inputs = {
    model: modelProvenance(o.paths.model, o.paths.adapter),
    sae: {
      path: o.paths.sae,
      format: sae.info.format,
      files: sae.info.files.map((f) => ({ path: f.path, sha256: f.sha256 })),
    },
    prompts: { path: o.paths.prompts, sha256: sha256Text(JSON.stringify(o.prompts)) },
    chat_template_sha256: tokenizer.chatTemplate ? sha256Text(tokenizer.chatTemplate) : null,
  };
  const layers = hookFields(session.hook, o);
  const base = {
    inputs,
    ...layers,
    features: featuresRecord(o),
    trials_per_feature: o.trialsPerFeature,
    seed: o.seed,
    conditions: o.conditions,
    strength: o.strength,
    ablated: { latents: o.latents.latents, source: o.latents.source },
    ...conditionSettings(o),
    sampling: o.sampling,
    judge: o.judge.provenance,
  };
  return {
    inputs,
    config: recordSettings(ABLATION_SETTINGS, o.settings.values, base),
    calibration: { inputs, sampling: o.sampling, judge: o.judge.provenance },
    trial: (run) => ({
      run,
      runtime: runtimeProvenance(o.backend),
      ...inputs,
      ...layers,
      sampling: o.sampling,
      base_seed: o.seed,
      ablated_from: o.latents.source,
      judge: o.judge.provenance,
    }),
  };
}
