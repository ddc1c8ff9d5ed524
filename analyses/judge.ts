// `analyze judge`: re-grades a stored trial store with another judge, into a new resumable store.
import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../lib/cli/options.ts';
import { InputError } from '../lib/errors.ts';
import { outFileFlag } from '../lib/cli/flags.ts';
import { createJudge, regradeTrials } from '../lib/judge/index.ts';

interface Args extends GlobalArgs {
  trials: string;
  judge: string;
  'judge-base-url'?: string;
  'judge-prompt'?: string;
  'judge-temperature': string;
  'judge-cache': string | false;
  concurrency: number;
  out: string;
}

function parseTemperature(value: string): number | null {
  if (value === 'none') return null;
  const t = Number(value);
  if (value.trim() === '' || !Number.isFinite(t) || t < 0) {
    throw new InputError(`--judge-temperature ${JSON.stringify(value)}: expected a number ≥ 0 or "none"`);
  }
  return t;
}

function progress(done: number, total: number, startedAt: number): void {
  if (!process.stderr.isTTY) return;
  const rate = done / Math.max((Date.now() - startedAt) / 1000, 1e-3);
  const eta = rate > 0 ? Math.round((total - done) / rate) : 0;
  process.stderr.write(`\r${done}/${total} judged, ${rate.toFixed(1)}/s, ETA ${eta}s   ${done === total ? '\n' : ''}`);
}

const command: CommandModule<GlobalArgs, Args> = {
  command: 'judge',
  describe: 're-grade a stored trial store with another judge, writing a new store (resumable)',
  builder: (y) =>
    y
      .option('trials', { type: 'string', demandOption: true, describe: 'trial store (JSONL) to re-grade' })
      .option('judge', {
        type: 'string',
        demandOption: true,
        describe: 'anthropic:<model>, openai:<model>, or heuristic (offline lexical approximation)',
      })
      .option('judge-base-url', { type: 'string', describe: 'endpoint of an Anthropic- or OpenAI-compatible server (vLLM, Ollama, OpenRouter, …)' })
      .option('judge-prompt', { type: 'string', describe: 'judge prompt template with {{prompt}}, {{response}}, {{feature_label}}' })
      .option('judge-temperature', { type: 'string', default: '0', describe: 'sampling temperature, or "none" to leave it to the server' })
      .option('judge-cache', { default: '.esr-cache/judge', describe: 'cache directory for remote judgments (--no-judge-cache: none)' })
      .option('concurrency', { type: 'number', default: 4, describe: 'judge requests in flight at once' })
      .option('out', { type: 'string', demandOption: true, describe: 'output trial store (JSONL, appended; rerun to resume)' }),
  handler: async (args) => {
    outFileFlag('out', args.out);
    const judge = createJudge(args.judge, {
      baseUrl: args['judge-base-url'] ?? null,
      promptFile: args['judge-prompt'] ?? null,
      temperature: parseTemperature(args['judge-temperature']),
      cacheDir: args['judge-cache'] === false ? null : String(args['judge-cache']),
      concurrency: args.concurrency,
    });
    if (judge.provenance.approximation) {
      console.error('note: the heuristic judge is an offline lexical APPROXIMATION, not an LLM judgment');
    }
    const startedAt = Date.now();
    const s = await regradeTrials({
      trialsPath: args.trials,
      outPath: args.out,
      judge,
      onProgress: (done, total) => progress(done, total, startedAt),
    });
    const st = judge.stats();
    console.log(`judge ${judge.id}${judge.provenance.approximation ? ' (approximation)' : ''}` +
      (judge.provenance.prompt_sha256 ? `, prompt sha256 ${judge.provenance.prompt_sha256}` : ''));
    console.log(`input ${s.input} trials: ${s.already_done} already in ${args.out}, ${s.judged} judged now ` +
      `(${s.judge_errors} judge errors), ${s.generation_errors} copied unjudged (generation errors)`);
    if (st.http_requests || st.cache_hits) {
      console.log(`requests ${st.http_requests}, cache hits ${st.cache_hits}, invalid outputs retried ${st.invalid_outputs}`);
    }
    console.log(`output ${s.output_total} trials, ${s.output_judge_errors} with judge errors → ${args.out}`);
  },
};

export default command;
