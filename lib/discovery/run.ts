// find-otd-latents end to end: responses → on/off-topic pairs → capture → differential statistics →
// ranked latent set, every step written to the run directory so a rerun continues where it stopped.
import { join } from 'node:path';
import { capture } from '../capture/capture.ts';
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
import { writeLatentSet } from '../stats/latentSet.ts';
import { writeRanking } from '../stats/rankingFile.ts';
import { openStore } from '../store/reader.ts';
import { type Analysis, analyseStore } from './analyse.ts';
import { discoveryDerangements, otdSamples } from './pairs.ts';
import { summaryMarkdown, type SummaryContext } from './report.ts';
import { type DiscoveryConfig, type DiscoveryOptions, discoveryOptions } from './options.ts';
import { generateResponses } from './responses.ts';
import { DISCOVERY_SETTINGS } from './settings.ts';

/**
 * Runs discovery with `config` (resolved by discoveryOptions; or options already resolved) into its run
 * directory, holding the directory's lock (one writer per run directory).
 */
export async function runDiscovery(setup: Session, config: DiscoveryConfig | DiscoveryOptions = {}): Promise<Analysis> {
  const o = 'settings' in config ? config : discoveryOptions(config, setup.paths);
  return withDirLock(o.out, `run directory ${o.out}`, () => discover(setup, o));
}

/** config.json: every setting as used (inputs with their hashes) and where each value came from. */
function writeConfig(setup: Session, o: DiscoveryOptions, promptsHash: string): void {
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
  writeJsonAtomic(join(o.out, 'config.json'), {
    config: recordSettings(DISCOVERY_SETTINGS, v, base),
    origins: o.settings.origins,
  });
}

async function discover(setup: Session, o: DiscoveryOptions): Promise<Analysis> {
  const perms = discoveryDerangements(o.prompts.length, o.derangements, o.seed, o.holdout); // before any work: K ≤ n − 1
  const promptsHash = sha256Text(JSON.stringify(o.prompts));
  writeConfig(setup, o, promptsHash);
  const genKey = sha256Text(JSON.stringify({ promptsHash, given: o.responses, generation: o.generation }));
  const responses = await reuseOrCompute(join(o.out, 'responses.json'), genKey, async () => {
    if (o.responses) return o.responses;
    o.log(
      `generating ${o.prompts.length} responses (seed ${o.generation.seed}, temperature ${o.generation.temperature}, ≤ ${o.generation.maxNewTokens} tokens)`,
    );
    const stopIds = setup.tokenizer.eosIds.length ? setup.tokenizer.eosIds : setup.config.eosTokenIds;
    const bar = progress('responses', o.prompts.length);
    let done = 0;
    const responses = await generateResponses(
      setup.executor,
      setup.tokenizer,
      stopIds,
      o.prompts,
      o.generation,
      (n) => {
        bar.tick(n - done);
        done = n;
      },
    );
    bar.done();
    return responses;
  });
  const empty = responses.findIndex((r) => r.trim() === '');
  if (empty >= 0)
    throw new InputError(
      `the response to prompt ${empty} ("${o.prompts[empty]}") is empty; give --responses or more --max-tokens`,
    );

  const samples = otdSamples(o.prompts, responses, perms);
  const storeDir = join(o.out, 'activations.acts');
  const settings = {
    hook: hookName(setup.hook),
    batch_size: o.batchSize,
    samples_sha256: sha256Text(JSON.stringify(samples)),
  };
  o.log(
    `capturing ${samples.length} samples (${o.prompts.length} on-topic, ${o.prompts.length * o.derangements} off-topic over ${o.derangements} derangements) at ${settings.hook}`,
  );
  const backend = o.backend === undefined ? setup.backend.description : o.backend;
  const meta = storeMeta(
    setup,
    o.paths.model,
    backend,
    { prompts: promptsHash, responses: sha256Text(JSON.stringify(responses)), samples: settings.samples_sha256 },
    { ...settings, derangements: perms, seed: o.seed, generation: o.responses ? null : o.generation },
  );
  let bar: Progress | undefined;
  await capture(setup, samples, storeDir, meta, {
    batchSize: o.batchSize,
    settings,
    onStart: ({ resumed, pending, batches }) => {
      o.log(`capture: ${resumed} samples already stored; ${pending} of ${batches} batches to run`);
      bar = progress('capture batches', pending);
    },
    onBatch: () => bar!.tick(),
  });
  bar?.done();

  const store = openStore(storeDir);
  const analysis = await analyseStore(store, {
    find: { ...o.find, span: o.span },
    holdout: o.holdout,
    labels: o.labels,
  });
  // Paths relative to the run directory keep latents.json identical across reruns into different directories.
  const provenance = {
    activations: 'activations.acts',
    inputs: o.paths,
    seed: o.seed,
    derangements: o.derangements,
    runtime: runtimeProvenance(backend),
    content_hashes: store.meta.content_hashes,
  };
  const source = `Model \`${o.paths.model}\`, SAE \`${o.paths.sae}\` at ${settings.hook}; ${o.prompts.length} prompts, ${o.derangements} derangements (seed ${o.seed}).`;
  writeDiscovery(o.out, analysis, provenance, { source, span: o.span, labels: o.labels });
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
