// `analyze judge`: re-grades a stored trial store with another judge, into a new resumable store; or,
// with --agreement A B, measures how two judges' gradings of the same trials agree.
import { type Progress, progress } from '../lib/progress.ts';
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { type JudgeArgs, judgeOptions, judgeSettings } from '../lib/cli/judgeFlags.ts';
import { InputError } from '../lib/errors.ts';
import { outFileFlag } from '../lib/cli/flags.ts';
import { createJudge, regradeTrials } from '../lib/judge/index.ts';
import { agreementText, judgeAgreement } from '../lib/judge/agreement.ts';
import { writeJsonAtomic } from '../lib/io/atomic.ts';
import { loadTrials } from '../lib/trials/paper.ts';

interface Args extends GlobalArgs, JudgeArgs {
  trials?: string;
  judge?: string;
  agreement?: string[];
  out?: string;
}

/** --agreement A B: the two gradings compared, printed, and written as JSON to --out when given. */
function agreement(args: Args): void {
  const files = args.agreement!;
  if (files.length !== 2) throw new InputError(`--agreement: expected two trial files (A B), found ${files.length}`);
  const clash = (['trials', 'judge', 'judge-base-url', 'judge-prompt'] as const).filter((k) => args[k] !== undefined);
  if (clash.length)
    throw new InputError(
      `--agreement compares two graded files; ${clash.map((k) => `--${k}`).join(', ')} only apply to re-grading`,
    );
  const g = judgeAgreement({ path: files[0], ...loadTrials(files[0]) }, { path: files[1], ...loadTrials(files[1]) });
  console.log(agreementText(g));
  if (args.out) {
    writeJsonAtomic(args.out, g);
    console.log(`wrote ${args.out}`);
  }
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'judge',
  describe:
    're-grade a stored trial store with another judge, writing a new store (resumable); or compare two gradings (--agreement A B)',
  builder: (y) =>
    judgeOptions(
      y
        .option('trials', { type: 'string', describe: 'trial store (JSONL) to re-grade (required unless --agreement)' })
        .option('judge', {
          type: 'string',
          describe:
            "anthropic:<model>, openai:<model>, heuristic (offline lexical approximation), or organism[:organism.json] (exact ground truth for the shipped organism; also records each trial's well-formed share); required unless --agreement",
        })
        .option('agreement', {
          type: 'string',
          array: true,
          describe:
            "A B: cross-judge agreement of two gradings of the same trials (our stores or the paper's result files): multi-attempt and ESR agreement with Cohen's κ, first-score correlation",
        })
        .option('out', {
          type: 'string',
          describe: 'output trial store (JSONL, appended; rerun to resume); with --agreement: the agreement as JSON',
        }),
    ),
  handler: async (args) => {
    outFileFlag('out', args.out);
    if (args.agreement) return agreement(args);
    const missing = (['trials', 'judge', 'out'] as const).filter((k) => args[k] === undefined);
    if (missing.length)
      throw new InputError(
        `re-grading needs ${missing.map((k) => `--${k}`).join(', ')} (or compare two gradings with --agreement A B)`,
      );
    const trialsPath = args.trials!;
    const outPath = args.out!;
    const judge = createJudge(args.judge!, judgeSettings(args));
    if (judge.provenance.approximation) {
      console.error('note: the heuristic judge is an offline lexical APPROXIMATION, not an LLM judgment');
    }
    const shown: { bar: Progress | null; seen: number } = { bar: null, seen: 0 };
    const s = await regradeTrials({
      trialsPath,
      outPath,
      judge,
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
