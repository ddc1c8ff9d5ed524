// find-otd-latents' options: a partial config (a notebook's, or the command's flags) resolved through
// the settings table (lib/discovery/settings.ts) — checked, layered over the defaults, each value with its
// origin — and the inputs it names read. Also the run-directory policies (latest run, --resume).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SettingError, settingRef as ref } from '../errors.ts';
import { checkPrompts, readLabels, readPrompts, readResponses } from '../io/inputs.ts';
import { latestRun, newRunDir, runsDir } from '../runs/dirs.ts';
import { samplingOf } from '../settings/sampling.ts';
import { settingSources } from '../settings/sources.ts';
import { type Input, required, type Resolved, resolveSettings } from '../settings/table.ts';
import type { FindOptions } from '../stats/detectors.ts';
import { STRAT_CI_DEFAULTS } from '../stats/stratCi.ts';
import { readLatentSet } from '../stats/latentSet.ts';
import { discoveryDerangements } from './pairs.ts';
import type { ResponseSettings } from './responses.ts';
import { DISCOVERY_SETTINGS, type DiscoverySettings } from './settings.ts';

export const DISCOVERY_COMMAND = 'find-otd-latents';

/** Any of the settings (DISCOVERY_SETTINGS), and what is not a setting: where listed inputs came from, the log. */
export type DiscoveryConfig = Input<typeof DISCOVERY_SETTINGS> & {
  /** Where prompts and responses given as lists came from (for provenance). */
  paths?: { prompts?: string | null; responses?: string | null };
  /** The backend recorded in the outputs; default the one active when the run starts. */
  backend?: string | null;
  log?: (line: string) => void;
};

/** A discovery run's settings resolved, and the inputs they name read. */
export interface DiscoveryOptions {
  settings: Resolved<typeof DISCOVERY_SETTINGS>;
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
  /** undefined: the backend active when the run starts. */
  backend: string | null | undefined;
  log: (line: string) => void;
}

/** Resolves a config for the model and SAE at `at` (the session's paths) and reads the files it names. */
export function discoveryOptions(c: DiscoveryConfig, at: { model: string; sae: string }): DiscoveryOptions {
  const { paths, backend, log, ...input } = c;
  const settings = resolveSettings(DISCOVERY_SETTINGS, input, settingSources(at));
  const v = settings.values;
  const given = required(
    settings,
    'prompts',
    'a prompts file, one prompt per line (the shipped prompts go with the shipped model and SAE only)',
  );
  const promptsFile = typeof given === 'string' ? given : (paths?.prompts ?? null);
  const prompts = typeof given === 'string' ? readPrompts(given) : checkPrompts(given, 'prompts');
  const responsesFile = typeof v.responses === 'string' ? v.responses : (paths?.responses ?? null);
  const responses = typeof v.responses === 'string' ? readResponses(v.responses, prompts) : v.responses;
  const analysis = analysisOptions(v);
  discoveryDerangements(prompts.length, v.derangements, v.seed, analysis.holdout); // refused before any work if they cannot be made
  return {
    settings,
    out: v.out ?? newRunDir(DISCOVERY_COMMAND),
    prompts,
    responses,
    generation: { ...samplingOf(v), seed: v.seed, batchSize: v.batchSize },
    derangements: v.derangements,
    seed: v.seed,
    ...analysis,
    batchSize: v.batchSize,
    paths: { model: at.model, sae: at.sae, prompts: promptsFile, responses: responsesFile },
    backend,
    log: log ?? ((line) => console.error(line)),
  };
}

/** What the analysis of an activation store takes from the settings (labels files read). */
export function analysisOptions(v: DiscoverySettings): Pick<DiscoveryOptions, 'span' | 'find' | 'holdout' | 'labels'> {
  return {
    span: v.span === 'full' ? 'all' : 'response',
    find: {
      pool: v.pool,
      method: v.method,
      unit: v.unit,
      alternative: v.alternative,
      criterion: { fdr: v.fdr },
      top: v.top,
      span: v.span === 'full' ? 'all' : 'response',
      ci: { ...STRAT_CI_DEFAULTS, seed: v.seed },
    },
    holdout: v.holdout === null ? null : { fraction: v.holdout, seed: v.seed },
    labels: typeof v.labels === 'string' ? readLabels(v.labels) : v.labels,
  };
}

/** The latest discovery run under `root` with a finished latents.json (made with the SAE at `saePath`, when given). */
export function latestDiscoveryRun(saePath: string | null, root = runsDir()): string | null {
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
export function latestLatentsFile(root = runsDir()): string {
  const dir = latestDiscoveryRun(null, root);
  if (!dir)
    throw new SettingError(
      `${ref('episodes')} needs a latent set: give ${ref('latents')} (a latents.json), or run find-otd-latents first (no complete run in ${root}/)`,
    );
  return join(dir, 'latents.json');
}

/** The latest discovery run that has not finished (no latents.json, no episodes.json): what --resume continues. */
export function unfinishedDiscoveryRun(root = runsDir()): string | null {
  return latestRun(
    DISCOVERY_COMMAND,
    (d) => !existsSync(join(d, 'latents.json')) && !existsSync(join(d, 'episodes.json')),
    root,
  );
}
