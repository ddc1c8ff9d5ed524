// The settings of `analyze finetune-data` (self-correction training data), declared once: flags, --help,
// checks and the options table in docs/commands.md.
import { BATCH_SIZE, MODEL_SETTINGS } from '../settings/session.ts';
import { custom, formatError, int, num, text, withDefault } from '../settings/kinds.ts';
import { samplingSettings, seedSetting } from '../settings/sampling.ts';
import { parseRatios } from './build.ts';

const sampling = samplingSettings({ maxTokens: 256, temperature: 0.6 }, null);
const isCount = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 1;

export const FINETUNE_DATA_SETTINGS = {
  // the data's manifest.json records the model and adapter; there is no config.json
  model: withDefault(MODEL_SETTINGS.model, {
    doc: 'the model to fine-tune: its chat template renders the examples (and it writes the responses when none are given)',
    key: null,
  }),
  adapter: withDefault(MODEL_SETTINGS.adapter, { key: null }),
  // declared so that it is refused with where to merge instead of as an unknown flag
  mergeAdapter: text({
    doc: 'not here: analyze generate ‹adapter› A ‹mergeAdapter› OUT writes the merged checkpoint',
    key: null,
    hidden: true,
  }),
  dtype: withDefault(MODEL_SETTINGS.dtype, { key: null }),
  quantize: withDefault(MODEL_SETTINGS.quantize, { key: null }),
  prompts: text({
    doc: 'one prompt per line',
    expected: 'a file',
    default: null,
    auto: 'data/prompts.txt, or every prompt of ‹responses›',
    key: null,
  }),
  responses: text({
    doc: "normal responses instead of generating: JSON {prompt: response | [responses]}, the paper's normal_responses.json, or JSONL {prompt, response} (several lines per prompt allowed)",
    expected: 'a file',
    key: null,
  }),
  responsesPerPrompt: int({
    doc: 'responses to generate per prompt (each one example)',
    min: 1,
    default: 1,
    key: null,
  }),
  maxTokens: sampling.maxTokens,
  temperature: sampling.temperature,
  topP: sampling.topP,
  batchSize: BATCH_SIZE,
  maskedRatio: custom<number[], string[]>({
    doc: 'percent of examples that are masked self-corrections; one or many (10,20,30 or repeated): one dataset each',
    default: [50],
    cli: { type: 'string', array: true },
    expected: 'percentages in [0, 100]',
    valid: (v) =>
      Array.isArray(v) &&
      v.length > 0 &&
      v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0 && x <= 100),
    parse: (cli) => parseRatios(cli),
    show: (v) => v.join(','),
    key: null,
  }),
  seed: withDefault(seedSetting('seed of the split, pairings, phrases and masking order (and of generation)'), {
    key: null,
  }),
  validation: num({
    doc: 'share of prompts held out for validation (split by prompt; 0 = none)',
    min: 0,
    max: 1,
    open: 'max',
    default: 0.1,
    key: null,
  }),
  distractionSentences: custom<[number, number], string>({
    doc: "sentences of another prompt's response a distraction takes (N or MIN-MAX, drawn per example)",
    default: [1, 2],
    cli: { type: 'string' },
    expected: 'MIN-MAX with 1 ≤ MIN ≤ MAX, or N',
    valid: (v) => Array.isArray(v) && v.length === 2 && v.every(isCount) && v[0] <= v[1],
    parse: (cli, name) => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(cli.trim());
      if (!m) throw formatError(name, cli, 'N or MIN-MAX, e.g. 1-2');
      return [Number(m[1]), Number(m[2] ?? m[1])];
    },
    show: ([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`),
    key: null,
  }),
  corrections: text({
    doc: 'correction phrases, one per line',
    expected: 'a file',
    default: null,
    auto: '12 built-in phrases',
    key: null,
  }),
  system: text({ doc: 'system message of every example', key: null }),
  llm: text({
    doc: "anthropic:<model> or openai:<model>: an LLM writes each distraction (about the paired prompt's subject) instead",
    expected: 'anthropic:<model> or openai:<model>',
    key: null,
  }),
  llmBaseUrl: text({
    doc: 'endpoint of an Anthropic- or OpenAI-compatible server for ‹llm›',
    expected: 'a URL',
    key: null,
    requires: { given: ['llm'] },
  }),
  llmConcurrency: int({ doc: '‹llm› requests in flight at once', min: 1, default: 4, key: null }),
  out: text({
    doc: 'output directory; rerunning resumes',
    expected: 'a directory',
    default: null,
    auto: 'runs/finetune-data-<timestamp>',
    key: null,
  }),
};
