// find-otd-latents end to end: responses → on/off-topic pairs → capture → differential statistics →
// ranked latent set, every step written to the run directory so a rerun continues where it stopped.
// The phases are callable on their own: a sharded run (shard.ts) generates its prompts' responses, then
// captures its batches of the fixed plan, and `analyze merge` (merge.ts) runs the statistics once, on the
// merged store, from the plan every shard recorded — the same calls the unsharded run makes.
import { join } from 'node:path';
import { type CaptureResult, capture } from '../capture/capture.ts';
import { type Progress, progress } from '../progress.ts';
import type { Session } from '../session.ts';
import { lockDir, withDirLock } from '../runs/lock.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { sha256Text } from '../io/hash.ts';
import { hookName } from '../model/hooks.ts';
import { reuseOrCompute } from '../runs/claim.ts';
import { runtimeProvenance } from '../runs/provenance.ts';
import { recordSettings } from '../settings/table.ts';
import { storeMeta } from '../capture/meta.ts';
import type { ShardSpec } from '../shards/spec.ts';
import type { FindOptions } from '../stats/detectors.ts';
import { writeLatentSet } from '../stats/latentSet.ts';
import { writeRanking } from '../stats/rankingFile.ts';
import { openStore } from '../store/reader.ts';
import type { StoreMeta } from '../store/schema.ts';
import { type Analysis, analyseStore } from './analyse.ts';
import { discoveryDerangements, otdSamples } from './pairs.ts';
import { summaryMarkdown, type SummaryContext } from './report.ts';
import { type DiscoveryConfig, type DiscoveryOptions, discoveryOptions } from './options.ts';
import { generateResponses } from './responses.ts';
import { DISCOVERY_SETTINGS } from './settings.ts';

/** The run's store, inside its run directory. */
export const STORE_DIR = 'activations.acts';
/** The responses (all prompts), inside its run directory: `{key, value}`. */
export const RESPONSES_FILE = 'responses.json';

/**
 * Runs discovery with `config` (resolved by discoveryOptions; or options already resolved) into its run
 * directory, holding the directory's lock (one writer per run directory).
 */
export async function runDiscovery(setup: Session, config: DiscoveryConfig | DiscoveryOptions = {}): Promise<Analysis> {
  const o = 'settings' in config ? config : discoveryOptions(config, setup.paths);
  return withDirLock(o.out, `run directory ${o.out}`, async () => {
    const run = startDiscovery(setup, o);
    const responses = await responsesPhase(setup, run);
    await capturePhase(setup, run, responses, join(o.out, STORE_DIR));
    return statisticsPhase(o.out, statisticsPlan(setup, run));
  });
}

/** A discovery run started: its options, derangements, the keys its stages are stored under, its backend. */
export interface DiscoveryRun {
  o: DiscoveryOptions;
  perms: number[][];
  promptsHash: string;
  /** The key of responses.json: what the responses depend on. */
  genKey: string;
  /** config.json's key: sha256 of the recorded settings (the same for every shard of a run). */
  settingsHash: string;
  backend: string | null;
}

/**
 * Checks the derangements can be made (before any work) and writes config.json; `check` sees the settings
 * hash first (a shard refuses a directory holding another shard).
 */
export function startDiscovery(
  setup: Session,
  o: DiscoveryOptions,
  check?: (settingsHash: string) => void,
): DiscoveryRun {
  const perms = discoveryDerangements(o.prompts.length, o.derangements, o.seed, o.holdout); // K ≤ n − 1
  const promptsHash = sha256Text(JSON.stringify(o.prompts));
  return {
    o,
    perms,
    promptsHash,
    genKey: sha256Text(JSON.stringify({ promptsHash, given: o.responses, generation: o.generation })),
    settingsHash: writeConfig(setup, o, promptsHash, check),
    backend: o.backend === undefined ? setup.backend.description : o.backend,
  };
}

/** config.json: every setting as used (inputs with their hashes), its hash, and where each value came from. */
function writeConfig(
  setup: Session,
  o: DiscoveryOptions,
  promptsHash: string,
  check?: (settingsHash: string) => void,
): string {
  const v = o.settings.values;
  const base = {
    inputs: {
      model: { path: o.paths.model },
      sae: { path: o.paths.sae },
      prompts: { path: o.paths.prompts, sha256: promptsHash },
      responses: o.responses ? { path: o.paths.responses, sha256: sha256Text(JSON.stringify(o.responses)) } : null,
    },
    feature_layer: setup.hook.layer,
    feature_hook: hookName(setup.hook),
    labels: typeof v.labels === 'string' ? v.labels : v.labels ? `(${v.labels.size} labels given)` : null,
  };
  const config = recordSettings(DISCOVERY_SETTINGS, v, base);
  const key = sha256Text(JSON.stringify(config));
  check?.(key);
  writeJsonAtomic(join(o.out, 'config.json'), { key, config, origins: o.settings.origins });
  return key;
}

/** Generates the responses to the prompts at `indices` (prompt i samples with seed + i). */
export async function generatePhase(setup: Session, o: DiscoveryOptions, indices: number[]): Promise<string[]> {
  o.log(
    `generating ${indices.length} responses (seed ${o.generation.seed}, temperature ${o.generation.temperature}, ≤ ${o.generation.maxNewTokens} tokens)`,
  );
  const stopIds = setup.tokenizer.eosIds.length ? setup.tokenizer.eosIds : setup.config.eosTokenIds;
  const bar = progress('responses', indices.length);
  let done = 0;
  const responses = await generateResponses(
    setup.executor,
    setup.tokenizer,
    stopIds,
    indices.map((i) => o.prompts[i]),
    o.generation,
    (n) => {
      bar.tick(n - done);
      done = n;
    },
    indices,
  );
  bar.done();
  return responses;
}

/** Every prompt's response: given, stored in responses.json (a rerun's, or a sharded run's merged), or generated. */
export async function responsesPhase(setup: Session, run: DiscoveryRun): Promise<string[]> {
  const { o } = run;
  const responses = await reuseOrCompute(join(o.out, RESPONSES_FILE), run.genKey, async () =>
    o.responses ? o.responses : generatePhase(setup, o, [...o.prompts.keys()]),
  );
  const empty = responses.findIndex((r) => r.trim() === '');
  if (empty >= 0)
    throw new InputError(
      `the response to prompt ${empty} ("${o.prompts[empty]}") is empty; give --responses or more --max-tokens`,
    );
  return responses;
}

/**
 * Captures the on/off-topic samples into the store `into`: all of them, or only `shard`'s batches of the
 * fixed plan (left as parts for the merge). `onStart` runs before the first batch.
 */
export async function capturePhase(
  setup: Session,
  run: DiscoveryRun,
  responses: string[],
  into: string,
  shard?: { spec: ShardSpec; onStart: (batches: number) => void },
): Promise<{ meta: StoreMeta; result: CaptureResult }> {
  const { o } = run;
  const samples = otdSamples(o.prompts, responses, run.perms);
  const settings = {
    hook: hookName(setup.hook),
    batch_size: o.batchSize,
    samples_sha256: sha256Text(JSON.stringify(samples)),
  };
  o.log(
    `capturing ${samples.length} samples (${o.prompts.length} on-topic, ${o.prompts.length * o.derangements} off-topic over ${o.derangements} derangements) at ${settings.hook}`,
  );
  const meta = storeMeta(
    setup,
    o.paths.model,
    run.backend,
    { prompts: run.promptsHash, responses: sha256Text(JSON.stringify(responses)), samples: settings.samples_sha256 },
    { ...settings, derangements: run.perms, seed: o.seed, generation: o.responses ? null : o.generation },
  );
  let bar: Progress | undefined;
  const result = await capture(setup, samples, into, meta, {
    batchSize: o.batchSize,
    settings,
    shard: shard?.spec,
    onStart: ({ resumed, pending, batches }) => {
      shard?.onStart(batches);
      o.log(`capture: ${resumed} samples already stored; ${pending} of ${batches} batches to run`);
      bar = progress('capture batches', pending);
    },
    onBatch: () => bar!.tick(),
  });
  bar?.done();
  return { meta, result };
}

/** What the statistics need besides the store, as plain JSON (a shard records it for the merge). */
export interface StatisticsPlan {
  find: FindOptions;
  span: 'response' | 'all';
  holdout: { fraction: number; seed: number } | null;
  /** The latent labels, as [latent, label] pairs; null without labels. */
  labels: [number, string][] | null;
  /** latents.json's provenance but for the store's content hashes (read from the store analysed). */
  provenance: Record<string, unknown>;
  /** The summary's sentence naming what was analysed. */
  source: string;
}

export function statisticsPlan(setup: Session, run: DiscoveryRun): StatisticsPlan {
  const { o } = run;
  return {
    find: o.find,
    span: o.span,
    holdout: o.holdout,
    labels: o.labels ? [...o.labels] : null,
    // paths relative to the run directory keep latents.json identical across reruns into different directories
    provenance: {
      activations: STORE_DIR,
      inputs: o.paths,
      seed: o.seed,
      derangements: o.derangements,
      runtime: runtimeProvenance(run.backend),
    },
    source: `Model \`${o.paths.model}\`, SAE \`${o.paths.sae}\` at ${hookName(setup.hook)}; ${o.prompts.length} prompts, ${o.derangements} derangements (seed ${o.seed}).`,
  };
}

/** The statistics of the run directory's store: ranking.arrow, latents.json and summary.md written there. */
export async function statisticsPhase(out: string, plan: StatisticsPlan): Promise<Analysis> {
  const store = openStore(join(out, STORE_DIR));
  const labels = plan.labels ? new Map(plan.labels) : undefined;
  const analysis = await analyseStore(store, {
    find: { ...plan.find, span: plan.span },
    holdout: plan.holdout,
    labels,
  });
  const provenance = { ...plan.provenance, content_hashes: store.meta.content_hashes };
  writeDiscovery(out, analysis, provenance, { source: plan.source, span: plan.span, labels });
  return analysis;
}

/** Writes ranking.arrow, latents.json and summary.md of an analysis into the run directory. */
export function writeDiscovery(
  out: string,
  an: Analysis,
  provenance: Record<string, unknown>,
  ctx: SummaryContext,
): void {
  const lock = lockDir(out, `run directory ${out}`);
  try {
    writeDiscoveryLocked(out, an, provenance, ctx);
  } finally {
    lock.release();
  }
}

function writeDiscoveryLocked(
  out: string,
  an: Analysis,
  provenance: Record<string, unknown>,
  ctx: SummaryContext,
): void {
  an.latentSet.provenance = provenance;
  writeRanking(join(out, 'ranking.arrow'), an.result.stats, an.result.order, an.result.selected);
  writeLatentSet(join(out, 'latents.json'), an.latentSet);
  writeFileAtomic(join(out, 'summary.md'), summaryMarkdown(an, ctx));
}
