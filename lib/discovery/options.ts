// find-otd-latents' settings in one place: the defaults, and the options a partial config (a notebook's,
// or the command's flags) resolves to. A resolved DiscoveryOptions is itself a valid config.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.ts';
import { readPrompts, readResponses } from '../io/inputs.ts';
import { latestRun, newRunDir, RUNS_DIR } from '../runs/dirs.ts';
import { SHIPPED } from '../session.ts';
import type { FindOptions } from '../stats/detectors.ts';
import { STRAT_CI_DEFAULTS } from '../stats/stratCi.ts';
import { readLatentSet } from '../stats/latentSet.ts';
import type { ResponseSettings } from './responses.ts';

export const DISCOVERY_COMMAND = 'find-otd-latents';

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
  holdout: { fraction: number; seed: number } | null;
  batchSize: number;
  labels?: Map<number, string>;
  /** Input files, as recorded in latents.json (null for prompts or responses given as lists). */
  paths: { model: string; sae: string; prompts: string | null; responses: string | null };
  backend: string | null;
  log: (line: string) => void;
}

/** The defaults of `analyze find-otd-latents` (generation's seed and batch size follow `seed` and `batchSize`). */
export const DISCOVERY_DEFAULTS = {
  derangements: 5,
  seed: 0,
  span: 'response',
  find: {
    pool: 'max',
    method: 'separability',
    unit: 'prompt',
    alternative: 'greater',
    top: 100,
    ci: STRAT_CI_DEFAULTS,
  },
  batchSize: 8,
  generation: { maxNewTokens: 64, temperature: 0.6, topK: 0, topP: 1, repetitionPenalty: 1.1 },
} as const satisfies Partial<Omit<DiscoveryOptions, 'generation'>> & {
  generation: Omit<ResponseSettings, 'seed' | 'batchSize'>;
};

export type DiscoveryConfig = Partial<Omit<DiscoveryOptions, 'prompts' | 'responses' | 'generation' | 'paths'>> & {
  /** A prompts file (one prompt per line) or the prompts; default the shipped data/prompts.txt. */
  prompts?: string | string[];
  /** A responses file, or the responses (one per prompt); default null: the model answers each prompt. */
  responses?: string | string[] | null;
  generation?: Partial<ResponseSettings>;
  /** Where prompts and responses given as lists came from (for provenance). */
  paths?: Partial<DiscoveryOptions['paths']>;
};

/** Fills a config in from the defaults; `model` and `sae` are the session's paths. Reads the prompt and response files. */
export function discoveryOptions(
  c: DiscoveryConfig,
  at: { model: string; sae: string },
  backend: string | null,
): DiscoveryOptions {
  const d = DISCOVERY_DEFAULTS;
  const promptsFile =
    typeof c.prompts === 'string' ? c.prompts : c.prompts ? (c.paths?.prompts ?? null) : SHIPPED.prompts;
  const prompts = Array.isArray(c.prompts) ? c.prompts : readPrompts(promptsFile!);
  const responsesFile = typeof c.responses === 'string' ? c.responses : (c.paths?.responses ?? null);
  const responses = typeof c.responses === 'string' ? readResponses(c.responses, prompts) : (c.responses ?? null);
  const seed = c.seed ?? d.seed;
  const batchSize = c.batchSize ?? d.batchSize;
  return {
    out: c.out ?? newRunDir(DISCOVERY_COMMAND),
    prompts,
    responses,
    generation: { ...d.generation, seed, batchSize, ...c.generation },
    derangements: c.derangements ?? d.derangements,
    seed,
    span: c.span ?? d.span,
    find: c.find ?? { ...d.find },
    holdout: c.holdout ?? null,
    batchSize,
    labels: c.labels,
    paths: { model: at.model, sae: at.sae, prompts: promptsFile, responses: responsesFile },
    backend: c.backend === undefined ? backend : c.backend,
    log: c.log ?? ((line) => console.error(line)),
  };
}

/** The latest discovery run under `root` with a finished latents.json (made with the SAE at `saePath`, when given). */
export function latestDiscoveryRun(saePath: string | null, root = RUNS_DIR): string | null {
  return latestRun(
    DISCOVERY_COMMAND,
    (dir) => {
      const file = join(dir, 'latents.json');
      if (!existsSync(file)) return false;
      if (saePath === null) return true;
      const sae = readLatentSet(file).sae as { path?: string } | null;
      return !sae?.path || sae.path === saePath;
    },
    root,
  );
}

/** latents.json of the latest complete discovery run: the default latent set of episodes mode. */
export function latestLatentsFile(root = RUNS_DIR): string {
  const dir = latestDiscoveryRun(null, root);
  if (!dir)
    throw new InputError(
      `--episodes needs a latent set: give --latents FILE, or run find-otd-latents first (no complete run in ${root}/)`,
    );
  return join(dir, 'latents.json');
}

/** The latest discovery run that has not finished (no latents.json, no episodes.json): what --resume continues. */
export function unfinishedDiscoveryRun(root = RUNS_DIR): string | null {
  return latestRun(
    DISCOVERY_COMMAND,
    (d) => !existsSync(join(d, 'latents.json')) && !existsSync(join(d, 'episodes.json')),
    root,
  );
}
