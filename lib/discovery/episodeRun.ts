// find-otd-latents --episodes: capture self-correction episodes and report how a latent set behaves
// over their off-topic, correction and on-topic regions (episodes.json, summary.md).
import { join } from 'node:path';
import { capture } from '../capture/capture.ts';
import { storeMeta } from '../capture/meta.ts';
import type { CaptureSample } from '../capture/samples.ts';
import type { Session } from '../session.ts';
import { withDirLock } from '../runs/lock.ts';
import { InputError } from '../errors.ts';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.ts';
import { markdownTable } from '../io/markdown.ts';
import { sha256File, sha256Text } from '../io/hash.ts';
import { hookName } from '../model/hooks.ts';
import { runtimeProvenance } from '../runs/provenance.ts';
import { type LatentSet, readLatentSet } from '../stats/latentSet.ts';
import { openStore } from '../store/reader.ts';
import { analyseEpisodes, type EpisodeReport } from './episodeAnalysis.ts';

/** When a set selects nothing, its top entries stand in (the `top26` convention of `ablate`). */
const FALLBACK_TOP = 26;

export interface ChosenLatents {
  latents: number[];
  which: 'selected' | `top${number}`;
}

/** The set's selected latents, or its first FALLBACK_TOP listed ones when none is selected; all below d_sae. */
function chooseLatents(set: LatentSet, dSae: number, path: string): ChosenLatents {
  const chosen: ChosenLatents = set.selected.length
    ? { latents: [...new Set(set.selected)], which: 'selected' }
    : { latents: [...new Set(set.latents.slice(0, FALLBACK_TOP).map((e) => e.latent))], which: `top${FALLBACK_TOP}` };
  if (chosen.latents.length === 0) throw new InputError(`${path}: the latent set lists no latents`);
  const bad = chosen.latents.find((l) => l >= dSae);
  if (bad !== undefined) throw new InputError(`${path}: latent ${bad} is outside the SAE (d_sae = ${dSae})`);
  return chosen;
}

/** A latent set made with another SAE names other latents: refuse it when both sides record the weights' hashes. */
function checkSameSae(set: LatentSet, session: Session, path: string): void {
  const hashes = (info: unknown): string[] => {
    const files = (info as { files?: { sha256?: unknown }[] } | null)?.files;
    return Array.isArray(files) ? files.map((f) => String(f?.sha256)).sort() : [];
  };
  const theirs = hashes(set.sae);
  const ours = hashes(session.sae.info);
  if (theirs.length && ours.length && theirs.join() !== ours.join()) {
    throw new InputError(
      `${path}: the latent set was made with another SAE (${(set.sae as { path?: string }).path ?? 'unknown path'}) than --sae; its latent indices do not apply`,
    );
  }
}

export interface EpisodeRunOptions {
  out: string;
  episodes: CaptureSample[];
  latentsPath: string;
  batchSize: number;
  paths: { model: string; sae: string; episodes: string };
  backend: string | null;
  log: (line: string) => void;
}

/** Runs episodes mode into `o.out`, holding its lock (one writer per run directory). */
export async function runEpisodes(session: Session, o: EpisodeRunOptions): Promise<EpisodeReport> {
  return withDirLock(o.out, `run directory ${o.out}`, () => episodes(session, o));
}

async function episodes(session: Session, o: EpisodeRunOptions): Promise<EpisodeReport> {
  const set = readLatentSet(o.latentsPath);
  checkSameSae(set, session, o.latentsPath);
  const chosen = chooseLatents(set, session.sae.dSae, o.latentsPath);
  const storeDir = join(o.out, 'episodes.acts');
  const samplesHash = sha256Text(JSON.stringify(o.episodes));
  if (set.hook && set.hook !== hookName(session.hook))
    o.log(`note: ${o.latentsPath} was ranked at ${set.hook}; these episodes are read at ${hookName(session.hook)}`);
  const settings = { hook: hookName(session.hook), batch_size: o.batchSize, samples_sha256: samplesHash };
  o.log(
    `capturing ${o.episodes.length} episodes at ${settings.hook}; ${chosen.latents.length} latents (${chosen.which} of ${o.latentsPath})`,
  );
  await capture(
    session,
    o.episodes,
    storeDir,
    storeMeta(session, o.paths.model, o.backend, { episodes: samplesHash }, settings),
    { batchSize: o.batchSize, settings, onBatch: (d, t) => o.log(`  capture: batch ${d}/${t}`) },
  );
  const report = await analyseEpisodes(
    openStore(storeDir),
    chosen.latents,
    o.episodes.map((e) => e.id),
  );
  const provenance = {
    inputs: o.paths,
    latent_set: {
      path: o.latentsPath,
      sha256: sha256File(o.latentsPath).sha256,
      method: set.method,
      which: chosen.which,
    },
    activations: 'episodes.acts',
    layer: session.hook.layer,
    hook: settings.hook,
    runtime: runtimeProvenance(o.backend),
  };
  writeJsonAtomic(join(o.out, 'episodes.json'), { ...report, provenance });
  writeFileAtomic(join(o.out, 'summary.md'), episodesMarkdown(report, chosen, o));
  return report;
}

const fmt = (x: unknown): string =>
  typeof x === 'number' ? (Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2)) : 'n/a';

/** A trace as text: one character per bin, darker = higher (relative to the trace's own maximum). */
export function sparkline(values: number[]): string {
  const ramp = ' ▁▂▃▄▅▆▇█';
  const max = Math.max(...values);
  return values.map((v) => ramp[max > 0 ? Math.round((v / max) * (ramp.length - 1)) : 0]).join('');
}

function episodesMarkdown(
  r: EpisodeReport,
  chosen: ChosenLatents,
  o: Pick<EpisodeRunOptions, 'paths' | 'latentsPath'>,
): string {
  const lines = [
    '# Self-correction episodes',
    '',
    `Model \`${o.paths.model}\`, SAE \`${o.paths.sae}\`; ${r.n_episodes} episodes from \`${o.paths.episodes}\`; ` +
      `${r.latents.length} latents (${chosen.which} of \`${o.latentsPath}\`): ${r.latents.join(', ')}.`,
    `Episodes lacking a region: ${Object.entries(r.missing)
      .map(([g, m]) => `${g} ${m}`)
      .join(', ')} (left out of the comparisons that need it, and counted as n_missing).`,
    '',
    '## Regions, paired across episodes',
    '',
    'Per episode, the mean code of each latent over each region (mean over the region\'s tokens); x vs y compared across episodes with the Wilcoxon signed-rank test and the paired t test (two-sided), d_z = mean(x − y)/sd(x − y), and the within-episode rank test (share of episodes with x above y, ties ½, and its exact two-sided p: the sign test). The row "mean" averages the latents first.',
    '',
  ];
  for (const c of r.comparisons) {
    lines.push(`### ${c.x} vs ${c.y}`, '');
    if (!c.results.length) {
      lines.push('Fewer than 2 episodes have both regions: not compared.', '');
      continue;
    }
    const rows = [c.results[c.results.length - 1], ...c.results.slice(0, -1)].map((row) => {
      const w = row.wilcoxon as { p: number | null };
      const t = row.paired_t as { p: number | null };
      const st = row.strat as { auc: number | null; p: number | null };
      return [
        String(row.latent),
        String(row.n_pairs),
        String(row.n_missing),
        fmt(row.mean_x),
        fmt(row.mean_y),
        fmt(row.ratio),
        fmt(row.d_z),
        fmt(w.p),
        fmt(t.p),
        fmt(st.auc),
        fmt(st.p),
      ];
    });
    lines.push(
      markdownTable(
        [
          'latent',
          'pairs',
          'missing',
          'mean x',
          'mean y',
          'ratio',
          'd_z',
          'Wilcoxon p',
          'paired t p',
          'x > y share',
          'rank test p',
        ],
        rows,
      ),
      '',
    );
  }
  lines.push(
    '## Traces',
    '',
    `Per episode and latent, the mean code in each of ${r.binning.bins} equal bins of the response: ${r.binning.rule}. In \`episodes.json\` (\`episodes[].trace\`, with each region's place as \`regions_fraction\`).`,
    'Mean over the latents, per episode (each line scaled to its own maximum; regions as fractions of the response):',
    '',
    '```',
    ...r.episodes.map(
      (e) =>
        `${sparkline(e.trace_mean)}  ${e.id}  ${Object.entries(e.regions_fraction)
          .map(([g, f]) => `${g} ${f ? `${f[0].toFixed(2)}–${f[1].toFixed(2)}` : '—'}`)
          .join(', ')}`,
    ),
    `${sparkline(r.mean_trace)}  (all episodes)`,
    '```',
    '',
    'Files: `episodes.json` (statistics, traces, binning, provenance), `episodes.acts/` (per-token codes).',
    '',
  );
  return lines.join('\n');
}
