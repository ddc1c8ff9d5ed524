// find-otd-latents end to end: responses → on/off-topic pairs → capture → differential statistics →
// ranked latent set, every step written to the run directory so a rerun continues where it stopped.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture } from '../capture/capture.ts';
import type { ModelAndSae } from '../cli/setup.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { modelProvenance, runtimeProvenance, sha256Text } from '../provenance.ts';
import { findDetectors, type FindOptions, type FindResult } from '../stats/detectors.ts';
import { writeLatentSet } from '../stats/latentSet.ts';
import { writeRanking } from '../stats/rankingFile.ts';
import { topTableMarkdown } from '../stats/table.ts';
import { openStore } from '../store/reader.ts';
import { derangements, otdSamples } from './pairs.ts';
import { generateResponses, type ResponseSettings } from './responses.ts';

export interface DiscoveryOptions {
  out: string;
  prompts: string[];
  /** Given responses (one per prompt), or null to generate them with `generation`. */
  responses: string[] | null;
  generation: ResponseSettings;
  derangements: number;
  seed: number;
  /** 'response' pools over the response tokens; 'all' over the whole rendered conversation (the paper's choice). */
  span: 'response' | 'all';
  find: FindOptions;
  batchSize: number;
  labels?: Map<number, string>;
  paths: { model: string; sae: string; prompts: string; responses: string | null };
  backend: string | null;
  log: (line: string) => void;
}

/** Reads a JSON file written by an earlier run, or computes and writes it (atomically). */
function reuseOrWrite<T>(path: string, key: string, make: () => T): T {
  if (existsSync(path)) {
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    if (saved.key !== key) throw new InputError(`${path}: written by a run with other settings; use another --out`);
    return saved.value as T;
  }
  const value = make();
  writeJsonAtomic(path, { key, value });
  return value;
}

export async function runDiscovery(setup: ModelAndSae, o: DiscoveryOptions): Promise<FindResult> {
  const promptsHash = sha256Text(JSON.stringify(o.prompts));
  const genKey = sha256Text(JSON.stringify({ promptsHash, given: o.responses, generation: o.generation }));
  const responses = reuseOrWrite(join(o.out, 'responses.json'), genKey, () => {
    if (o.responses) return o.responses;
    o.log(`generating ${o.prompts.length} responses (seed ${o.generation.seed}, temperature ${o.generation.temperature}, ≤ ${o.generation.maxNewTokens} tokens)`);
    return generateResponses(setup.model, setup.tokenizer, o.prompts, o.generation, (n) => o.log(`  responses: ${n}/${o.prompts.length}`));
  });
  const empty = responses.findIndex((r) => r.trim() === '');
  if (empty >= 0) throw new InputError(`the response to prompt ${empty} ("${o.prompts[empty]}") is empty; give --responses or more --max-tokens`);

  const perms = derangements(o.prompts.length, o.derangements, o.seed);
  const samples = otdSamples(o.prompts, responses, perms);
  const storeDir = join(o.out, 'activations.acts');
  const settings = { layer: setup.layer, batch_size: o.batchSize, samples_sha256: sha256Text(JSON.stringify(samples)) };
  o.log(`capturing ${samples.length} samples (${o.prompts.length} on-topic, ${o.prompts.length * o.derangements} off-topic over ${o.derangements} derangements) at resid_post.${setup.layer}`);
  await capture(setup, samples, storeDir, {
    model: modelProvenance(o.paths.model),
    sae: setup.sae.info,
    layer: setup.layer,
    d_sae: setup.sae.dSae,
    chat_template_hash: setup.tokenizer.chatTemplate ? sha256Text(setup.tokenizer.chatTemplate) : null,
    content_hashes: { prompts: promptsHash, responses: sha256Text(JSON.stringify(responses)), samples: settings.samples_sha256 },
    settings: { ...settings, derangements: perms, seed: o.seed, generation: o.responses ? null : o.generation },
    runtime: runtimeProvenance(o.backend),
  }, { batchSize: o.batchSize, settings, onBatch: (d, t) => o.log(`  capture: batch ${d}/${t}`) });

  const store = openStore(storeDir);
  const result = await findDetectors(store, { ...o.find, span: o.span });
  // Paths relative to the run directory keep latents.json identical across reruns into different directories.
  result.latentSet.provenance = {
    activations: 'activations.acts',
    inputs: o.paths,
    seed: o.seed,
    derangements: o.derangements,
    runtime: runtimeProvenance(o.backend),
    content_hashes: store.meta.content_hashes,
  };
  if (o.labels) for (const e of result.latentSet.latents) if (o.labels.has(e.latent)) e.label = o.labels.get(e.latent);
  writeRanking(join(o.out, 'ranking.arrow'), result.stats, result.order, result.selected);
  writeLatentSet(join(o.out, 'latents.json'), result.latentSet);
  writeFileAtomic(join(o.out, 'summary.md'), summaryMarkdown(result, o));
  return result;
}

function summaryMarkdown(r: FindResult, o: DiscoveryOptions): string {
  const c = r.latentSet.criterion as Record<string, unknown>;
  return [
    '# Off-topic detector latents',
    '',
    `Model \`${o.paths.model}\`, SAE \`${o.paths.sae}\`, layer ${r.latentSet.layer}; ${o.prompts.length} prompts, ${o.derangements} derangements (seed ${o.seed}).`,
    `Samples: ${r.stats.n_a} off-topic vs ${r.stats.n_b} on-topic, ${c.pool}-pooled over the ${o.span === 'all' ? 'whole conversation' : 'response'}.`,
    `Selection rule \`${r.criterion.method}\`: **${r.latentSet.selected.length} latents pass**. Ranked by ${c.rank_by} (ties: Cohen's d).`,
    '',
    topTableMarkdown(r, 26, o.labels),
    '',
    'Files: `latents.json` (ranked latent set), `ranking.arrow` (every latent), `activations.acts/` (codes), `responses.json`.',
    '',
  ].join('\n');
}
