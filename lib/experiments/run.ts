// analyze ablate end to end, as typed steps a notebook can also call one by one: options (config.ts) →
// features (pool.ts) → strengths (strengths.ts: calibration and sweeps) → the paired trial plan (plan.ts) →
// trials (trials.ts) → metrics (results.ts) → summary.md (summary.ts); provenance (provenance.ts) built once.
// Everything lands in the run directory; rerunning the same command there continues where it stopped.
import { dirname, join } from 'node:path';
import { checkGenerationLength } from '../model/generate.ts';
import { hookName } from '../model/hooks.ts';
import { checkClaim } from '../runs/claim.ts';
import { modelShape } from '../report/paper.ts';
import { withDirLock } from '../runs/lock.ts';
import type { Session } from '../session.ts';
import { hasTrialLines } from '../trials/store.ts';
import { conditionInstructions, condition, prepareConditions } from './conditions.ts';
import {
  type AblationConfig,
  type AblationOptions,
  type AblationResult,
  type AblationSetup,
  ablationOptions,
} from './config.ts';
import { checkLatentIndices } from './latents.ts';
import { planTrials } from './plan.ts';
import { checkFeatures, chooseFeatures } from './pool.ts';
import { ablationProvenance } from './provenance.ts';
import { ablationFinish, finishAblation } from './results.ts';
import { finishShard, startShard, waitForShards } from './shard.ts';
import { checkShardDir } from '../shards/manifest.ts';
import { renderPrompt, type SteeredGenerator } from './steered.ts';
import { strengthsFor } from './strengths.ts';
import { runTrials } from './trials.ts';

export const STORE_FILE = 'trials.jsonl';

/**
 * Runs the ablation with `config` (resolved by ablationOptions; or a setup prepared before the session
 * opened) into its run directory, holding the directory's lock (one writer per run directory).
 */
export async function runAblation(
  session: Session,
  config: AblationConfig | AblationSetup = {},
): Promise<AblationResult> {
  const o = await ablationOptions(session, config);
  return withDirLock(o.out, `run directory ${o.out}`, () => ablation(session, o));
}

/**
 * The options with `sampling.maxNewTokens` lowered to what the model's context leaves after the longest
 * prompt (under every condition's instruction), when `fitMaxTokens` allows it; said on the log.
 */
export function fitToContext(session: Session, o: AblationOptions): AblationOptions {
  const longest = longestPrompt(session, o);
  const room = session.config.maxPositions - longest;
  if (!o.fitMaxTokens || o.sampling.maxNewTokens <= room || room < 1) return o;
  o.log(
    `max-tokens ${o.sampling.maxNewTokens} (the default) does not fit the model's max_position_embeddings (${session.config.maxPositions}) after the longest prompt (${longest} tokens): generating at most ${room}`,
  );
  return { ...o, sampling: { ...o.sampling, maxNewTokens: room } };
}

/** Tokens of the longest prompt under any condition's instruction. */
function longestPrompt(session: Session, o: AblationOptions): number {
  const instructions = conditionInstructions(o.conditions, o);
  return Math.max(...o.prompts.flatMap((p) => instructions.map((i) => renderPrompt(session.tokenizer, p, i).length)));
}

/**
 * On a GPU (session.batchFor), a batch size left at its default is sized from the device memory for this run's
 * longest prompt and length (results do not depend on it); said on the log.
 */
export function gpuBatchSize(session: Session, o: AblationOptions): AblationOptions {
  if (!session.batchFor || o.settings.origins.batchSize !== 'default') return o;
  const r = session.batchFor({ promptTokens: longestPrompt(session, o), newTokens: o.sampling.maxNewTokens });
  o.log(`batch size ${r.batch} (the GPU default; ${r.why})`);
  return { ...o, batchSize: r.batch };
}

/** What must hold before any work: latent indices in the SAE, and every prompt (under each condition's instruction) plus the length fitting the model. */
export function checkAblation(session: Session, o: AblationOptions): void {
  checkLatentIndices(o.latents.latents, session.sae.dSae, o.latents.source);
  if (Array.isArray(o.features)) checkFeatures(o.features, o.latents.latents, session.sae.dSae);
  for (const instruction of conditionInstructions(o.conditions, o)) {
    checkGenerationLength(
      o.prompts.map((p) => renderPrompt(session.tokenizer, p, instruction)),
      o.sampling.maxNewTokens,
      session.config.maxPositions,
    );
  }
}

/** The batched steered generator of a session under these options. */
export function steeredGenerator(session: Session, o: AblationOptions): SteeredGenerator {
  const { tokenizer, executor } = session;
  const stopIds = tokenizer.eosIds.length ? tokenizer.eosIds : session.config.eosTokenIds;
  return { executor, tokenizer, stopIds, sampling: o.sampling, judge: o.judge, batchSize: o.batchSize };
}

async function ablation(session: Session, options: AblationOptions): Promise<AblationResult> {
  const started = Date.now();
  const o = gpuBatchSize(session, fitToContext(session, options));
  checkAblation(session, o);
  const provenance = ablationProvenance(session, o);
  const store = join(o.out, STORE_FILE);
  // Checked now, recorded only once every input has been (the pool, the sample, the conditions): a run
  // refused on its inputs leaves no config.json to block the corrected rerun. A run that stored no trial
  // does not block one with other settings either (it is replaced).
  const claim = checkClaim(o.out, provenance.config, {
    extra: { origins: o.settings.origins },
    started: () => hasTrialLines(store),
    log: o.log,
  });
  const run = claim.key;
  if (o.shard) checkShardDir(o.out, o.shard, run);
  o.log(`run directory: ${o.out}`);
  const gen = steeredGenerator(session, o);
  const { features: all, pool, scan } = await chooseFeatures(session, o);
  const resources = await prepareConditions(o.conditions, {
    ...o,
    features: all,
    dSae: session.sae.dSae,
    sae: session.sae,
  });
  claim.record();
  // a shard calibrates and runs its own features; everything above is the whole run's, computed alike in every shard
  const features = o.shard ? startShard(o, run, all) : all;
  const strengths = await strengthsFor({
    ...o,
    out: o.shard ? dirname(o.out) : o.out, // the shards of a run share <out>/calibration
    runFeatures: o.shard ? all : undefined,
    gen,
    sae: session.sae,
    features,
    steered: o.conditions.some((c) => condition(c).steered),
    scan,
    context: provenance.calibration,
  });
  if (strengths.waiting) return waitForShards(o, store, strengths.waiting.length, started);
  const plan = planTrials({ ...o, ...resources, features, strengths: strengths.perFeature });
  const sweep = strengths.levels ? ` × ${strengths.levels.length} levels` : '';
  const base = provenance.trial(run);
  const t = await runTrials(
    gen,
    plan,
    store,
    { run, base, calibrations: strengths.calibrations, rejudgeFailed: o.rejudgeFailed, log: o.log },
    `${features.length} features × ${o.trialsPerFeature} draws × conditions ${o.conditions.join(', ')}${sweep}`,
  );
  const finish = ablationFinish(
    o,
    {
      key: run,
      store: STORE_FILE,
      runtime: base.runtime,
      shape: {
        model: modelShape(session.config),
        sae: {
          d_in: session.sae.dIn,
          d_sae: session.sae.dSae,
          layer: session.hook.layer,
          hook: hookName(session.hook),
        },
      },
    },
    { features: all, pool, resources, levels: strengths.levels },
  );
  const tally = {
    planned: plan.length,
    alreadyDone: t.alreadyDone,
    generated: t.generated,
    seconds: (Date.now() - started) / 1000,
    judgeStats: o.judge.stats(),
    calibrations: strengths.calibrations,
  };
  if (o.shard) return finishShard(o, run, all, plan, { finish, tally }, store);
  return finishAblation(o.out, store, t.trials, finish, tally);
}
