// Step 1 of an ablation: the features to steer along — given, or sampled from the steering pool measured
// on the prompts and the general text (steering_pool.json) — checked against the SAE and the ablated set.
import { join } from 'node:path';
import { SettingError, settingRef as ref } from '../errors.ts';
import { writeJsonAtomic } from '../io/atomic.ts';
import { type HookPoint, hookName, sameHook } from '../model/hooks.ts';
import type { Session } from '../session.ts';
import type { AblationOptions } from './config.ts';
import { type Feature, sampleFeatures, type SteeringPool, steeringPool } from './features.ts';
import { checkLatentIndices } from './latents.ts';
import { type PromptScan, scanPrompts } from './scan.ts';
import { renderPrompt } from './steered.ts';

export interface ChosenFeatures {
  features: Feature[];
  /** The pool they were sampled from; null when given. */
  pool: SteeringPool | null;
  /** The prompts scanned at the steering layer, when calibration needs their residual norm. */
  scan: PromptScan | null;
}

/** Given features must be SAE latents outside the ablated set. */
export function checkFeatures(features: Feature[], ablated: number[], dSae: number): void {
  checkLatentIndices(
    features.map((f) => f.latent),
    dSae,
    ref('features'),
  );
  const clash = features.filter((f) => ablated.includes(f.latent)).map((f) => f.latent);
  if (clash.length)
    throw new SettingError(
      `${ref('features')}: ${clash.join(', ')} ${clash.length > 1 ? 'are' : 'is'} also in the ablated set; steer along other latents`,
    );
}

function emptyPool(pool: SteeringPool, hook: HookPoint, labelled: boolean): SettingError {
  const c = pool.counts;
  return new SettingError(
    `the steering pool at ${hookName(hook)} is empty (${c.silent_on_prompts} latents silent on every prompt, ` +
      `${c.alive_on_general_text} of them alive on the general text${labelled ? `, ${c.labelled} labelled` : ''}, ` +
      `ablated latents excluded): give ${ref('features')}, another ${ref('featureLabels')} file, or other ${ref('prompts')} / ${ref('generalText')}`,
  );
}

/**
 * The features of a run: the given ones, or a seeded sample of the steering pool (all of it, with a note,
 * when the default sample size is larger than the pool). Scans the prompts at the steering layer first
 * when calibration needs their residual norm (the default calibration range).
 */
export async function chooseFeatures(session: Session, o: AblationOptions): Promise<ChosenFeatures> {
  const { executor, sae, tokenizer } = session;
  const rendered = o.prompts.map((p) => renderPrompt(tokenizer, p, null));
  const needScan = o.strength.kind === 'calibrate' && o.strength.range === null;
  const scan = needScan ? await scanPrompts(executor, sae, o.steerHook, rendered, o.batchSize) : null;
  if (scan)
    o.log(
      `prompts at ${hookName(o.steerHook)}: median activation norm ${scan.medianNorm.toFixed(2)} (scales the calibration range)`,
    );
  if (Array.isArray(o.features)) return { features: o.features, pool: null, scan };
  const { labels, generalText } = o.features;
  const onPrompts =
    sameHook(session.hook, o.steerHook) && scan
      ? scan
      : await scanPrompts(executor, sae, session.hook, rendered, o.batchSize);
  const texts = generalText.texts.map((t) => tokenizer.encode(t).ids);
  const general = await scanPrompts(executor, sae, session.hook, texts, o.batchSize);
  const pool = steeringPool(sae.dSae, onPrompts.alive, general.alive, o.latents.latents, labels?.labels ?? null);
  const c = pool.counts;
  o.log(
    `steering pool at ${hookName(session.hook)}: ${c.silent_on_prompts} latents silent on every prompt, ${c.alive_on_general_text} of them alive on ${generalText.path}` +
      `${labels ? `, ${c.labelled} labelled in ${labels.path}` : ''} → ${c.pool} candidates (ablated latents excluded)`,
  );
  if (pool.features.length === 0) throw emptyPool(pool, session.hook, labels !== null);
  let sample = o.features.sample;
  if (o.features.sampleIsDefault && pool.features.length < sample) {
    o.log(
      `note: the steering pool holds ${pool.features.length} latents, fewer than the default ${sample}: steering along all of them`,
    );
    sample = pool.features.length;
  }
  const features = sampleFeatures(pool.features, sample, o.seed);
  writeJsonAtomic(join(o.out, 'steering_pool.json'), {
    rule: pool.rule,
    ...pool.counts,
    feature_labels: labels?.path ?? null,
    general_text: generalText.path,
    sampled: features.map((f) => f.latent),
  });
  return { features, pool, scan };
}
