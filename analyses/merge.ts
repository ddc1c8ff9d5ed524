// `analyze merge OUT DIR…`: the shards of one run (each DIR a shard directory, or one holding
// shard-I-of-N directories) checked and combined into the run directory OUT, finished as the unsharded
// run would be (metrics, summary, figures, report). Rerunning it rewrites the same files.
import { join } from 'node:path';
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { CAPTURE_COMMAND, mergeCapture } from '../lib/capture/merge.ts';
import { mergeDiscovery } from '../lib/discovery/merge.ts';
import { DISCOVERY_COMMAND } from '../lib/discovery/options.ts';
import { discoveryResultText } from '../lib/discovery/resultText.ts';
import { InputError } from '../lib/errors.ts';
import { ABLATE_COMMAND } from '../lib/experiments/config.ts';
import { mergeAblation } from '../lib/experiments/merge.ts';
import { lockDir } from '../lib/runs/lock.ts';
import { claimMerged, readShardSet } from '../lib/shards/merge.ts';
import { metricsText } from '../lib/trials/report.ts';

interface Args extends GlobalArgs {
  out: string;
  dirs: string[];
}

const log = (line: string) => console.error(line);

const command: CommandModule<GlobalArgs, Args> = {
  command: 'merge <out> <dirs..>',
  describe:
    'Combine the shards of one run (--shard I/N, or a SLURM/Kubernetes array) into one run directory, after checking that they are all there, once each, with the same settings',
  builder: (y) =>
    y
      .positional('out', { type: 'string', demandOption: true, describe: 'the merged run directory' })
      .positional('dirs', {
        type: 'string',
        array: true,
        demandOption: true,
        describe: 'shard directories, or directories holding shard-I-of-N directories',
      }),
  handler: async (a) => {
    const set = readShardSet(a.dirs); // every problem named, exit 2, before anything is written
    if (![ABLATE_COMMAND, CAPTURE_COMMAND, DISCOVERY_COMMAND].includes(set.command))
      throw new InputError(
        `merging ${set.command} shards is not supported (ablate, capture and find-otd-latents shards are)`,
      );
    log(
      `${set.shards.length} shards of one ${set.command} run${set.phase ? ` at its ${set.phase} phase` : ''} (settings hash ${set.settingsHash.slice(0, 12)}…) → ${a.out}`,
    );
    const started = Date.now();
    const lock = lockDir(a.out, `run directory ${a.out}`);
    try {
      claimMerged(a.out, set);
      if (set.command === CAPTURE_COMMAND) {
        const r = await mergeCapture(a.out, set);
        return console.log(`${a.out}: the activation store of ${r.batches} batches from ${set.shards.length} shards`);
      }
      if (set.command === DISCOVERY_COMMAND) {
        const r = await mergeDiscovery(a.out, set, log);
        if (r.phase === 'responses')
          return console.log(
            `${a.out}: the responses to ${r.responses} prompts, also written into every shard directory; now run the shards again (the same command and indices) for the capture, then this merge again`,
          );
        console.log(discoveryResultText(r.analysis, r.labels, ((Date.now() - started) / 1000).toFixed(1)));
        const { writeFigures } = await import('../lib/plot/run.ts'); // the plotting libraries load only to draw
        const figures = await writeFigures(a.out);
        return console.log(
          `wrote ${join(a.out, 'latents.json')}, ranking.arrow, summary.md, ${figures.length} figures in ${join(a.out, 'figures')}`,
        );
      }
      const r = mergeAblation(a.out, set, log);
      console.log(metricsText(r.report, Object.keys(r.report.conditions)[0]));
      const [{ writeFigures }, { writeReport }] = await Promise.all([
        import('../lib/plot/run.ts'),
        import('../lib/report/build.ts'),
      ]);
      const figures = await writeFigures(a.out, {});
      const report = await writeReport(a.out, undefined, {});
      console.log(
        `\n${r.planned} trials from ${set.shards.length} shards → ${r.store}; metrics.json, summary.md, ${figures.length} figures and ${report} in ${a.out}`,
      );
    } finally {
      lock.release();
    }
  },
};

export default command;
