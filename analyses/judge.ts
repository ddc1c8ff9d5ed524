// `analyze judge`: re-grades a stored trial store with another judge, into a new resumable store; or,
// with --agreement A B, measures how two judges' gradings of the same trials agree.
import { type Progress, progress } from '../lib/progress.ts';
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { cliInput, joinTables, settingOptions } from '../lib/cli/settings.ts';
import { SettingError, settingRef as ref } from '../lib/errors.ts';
import { outFileFlag } from '../lib/cli/flags.ts';
import { regradeTrials } from '../lib/judge/index.ts';
import { agreementText, judgeAgreement } from '../lib/judge/agreement.ts';
import { judgeFrom, JUDGE_SETTINGS, REGRADE_SETTINGS } from '../lib/judge/settings.ts';
import { writeJsonAtomic } from '../lib/io/atomic.ts';
import { type CliArgs, type Input, resolveSettings } from '../lib/settings/table.ts';
import { loadTrials } from '../lib/trials/paper.ts';
import type { Trial } from '../lib/trials/types.ts';
import { resolveShard } from '../lib/shards/environment.ts';
import { shardItems } from '../lib/shards/partition.ts';
import { SHARD_SETTINGS } from '../lib/shards/settings.ts';
import { shardFile, shardText } from '../lib/shards/spec.ts';

/** Every flag of the command: the judge's settings and its own. */
export const SETTINGS = joinTables(joinTables(REGRADE_SETTINGS, JUDGE_SETTINGS), SHARD_SETTINGS);
type Args = GlobalArgs & CliArgs<typeof SETTINGS>;

/** --agreement A B: the two gradings compared, printed, and written as JSON to --out when given. */
function agreement([a, b]: string[], input: Input<typeof SETTINGS>, out: string | undefined): void {
  const clash = (['judge', 'judgeBaseUrl', 'judgePrompt'] as const).filter((k) => input[k] !== undefined);
  if (clash.length)
    throw new SettingError(
      `${ref('agreement')} compares two graded files; ${clash.map(ref).join(', ')} only apply to re-grading`,
    );
  const g = judgeAgreement({ path: a, ...loadTrials(a) }, { path: b, ...loadTrials(b) });
  console.log(agreementText(g));
  if (out) {
    writeJsonAtomic(out, g);
    console.log(`wrote ${out}`);
  }
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'judge',
  describe:
    're-grade a stored trial store with another judge, writing a new store (resumable); or compare two gradings (--agreement A B)',
  builder: (y) => settingOptions(y, SETTINGS),
  handler: async (args) => {
    const input = cliInput(SETTINGS, args);
    const { values: v } = resolveSettings(SETTINGS, input);
    outFileFlag('out', v.out);
    if (v.agreement) return agreement(v.agreement, input, v.out);
    const missing = (['trials', 'judge', 'out'] as const).filter((k) => input[k] === undefined);
    if (missing.length)
      throw new SettingError(
        `re-grading needs ${missing.map(ref).join(', ')} (or compare two gradings with ${ref('agreement')} A B)`,
      );
    const judge = judgeFrom({ ...v, judgeConcurrency: v.concurrency ?? v.judgeConcurrency });
    if (judge.provenance.approximation) {
      console.error('note: the heuristic judge is an offline lexical APPROXIMATION, not an LLM judgment');
    }
    // a shard re-grades the trials of its features (round-robin in the order they first appear) into its own file
    const shard = resolveShard({ shard: v.shard, shards: v.shards });
    const outPath = shard ? shardFile(v.out!, shard) : v.out!;
    if (shard) console.error(`shard ${shardText(shard)} from ${shard.source}: the trials of its features → ${outPath}`);
    const shown: { bar: Progress | null; seen: number } = { bar: null, seen: 0 };
    const s = await regradeTrials({
      trialsPath: v.trials!,
      outPath,
      judge,
      rejudgeFailed: v.rejudgeFailed,
      ...(shard ? { select: (ts: Trial[]) => shardItems(ts, (t) => t.feature, shard) } : {}),
      onProgress: (done, total) => {
        shown.bar ??= progress('judged', total);
        shown.bar.tick(done - shown.seen);
        shown.seen = done;
      },
    });
    shown.bar?.done();
    const st = judge.stats();
    console.log(
      `judge ${judge.id}${judge.provenance.approximation ? ' (approximation)' : ''}` +
        (judge.provenance.prompt_sha256 ? `, prompt sha256 ${judge.provenance.prompt_sha256}` : ''),
    );
    console.log(
      `input ${s.input} trials: ${s.already_done} already in ${outPath}, ${s.judged} judged now ` +
        `(${s.judge_errors} judge errors), ${s.generation_errors} copied unjudged (generation errors)`,
    );
    if (s.rejudged)
      console.log(
        `${s.rejudged} trials of ${outPath} whose judging had failed were judged again: ${s.rejudged_ok} now judged, ${s.rejudged - s.rejudged_ok} failed again`,
      );
    if (st.http_requests || st.cache_hits) {
      console.log(
        `requests ${st.http_requests}, cache hits ${st.cache_hits}, invalid outputs retried ${st.invalid_outputs}, no attempt found ${st.no_attempt}` +
          (st.models_returned.length ? `; model id returned by the API: ${st.models_returned.join(', ')}` : ''),
      );
    }
    console.log(`output ${s.output_total} trials, ${s.output_judge_errors} with judge errors → ${outPath}`);
  },
};

export default command;
