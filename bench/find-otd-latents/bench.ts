// bench/find-otd-latents: wall time and peak memory of whole `analyze find-otd-latents` runs, each in its
// own process under /usr/bin/time -v: (1) the shipped default with no flags; (2) a random ~110M-parameter
// Llama (bench/forward/make_checkpoint.py) with a random 16,384-wide SAE, 40 prompts × 5 derangements.
// Usage: node --import tsx bench/find-otd-latents/bench.ts [--workers 0] [--python .venv-ref/bin/python] [--only default|110m]
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '0' },
    python: { type: 'string', default: '.venv-ref/bin/python' },
    only: { type: 'string' },
    prompts: { type: 'string', default: '40' },
  },
});
const root = join(import.meta.dirname, '..', '..');
const cache = join(root, 'bench', '.cache');
const tmp = mkdtempSync(join(tmpdir(), 'bench-otd-'));

interface Measured {
  wall_s: number;
  peak_rss_mb: number;
  stdout: string;
  codes_mb: number;
}

/** Runs `analyze find-otd-latents ARGS` in a fresh process and reads its wall time and peak RSS from GNU time. */
function timed(out: string, args: string[]): Measured {
  const r = spawnSync(
    '/usr/bin/time',
    ['-v', process.execPath, join(root, 'bin', 'analyze.js'), 'find-otd-latents', '--out', out, ...args],
    { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) throw new Error(`find-otd-latents failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  const field = (name: string) => r.stderr.match(new RegExp(`${name}: (.+)`))?.[1] ?? '';
  const wall = field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)')
    .split(':')
    .reduce((t, x) => t * 60 + Number(x), 0);
  return {
    wall_s: wall,
    peak_rss_mb: Number(field('Maximum resident set size \\(kbytes\\)')) / 1024,
    stdout: r.stdout,
    codes_mb: existsSync(join(out, 'activations.acts'))
      ? statSync(join(out, 'activations.acts', 'codes.arrow')).size / 2 ** 20
      : 0,
  };
}

function report(name: string, m: Measured): void {
  console.log(
    `${name}: wall ${m.wall_s.toFixed(1)} s, peak RSS ${m.peak_rss_mb.toFixed(0)} MB, codes.arrow ${m.codes_mb.toFixed(1)} MB`,
  );
  console.log(`  ${m.stdout.split('\n')[0]}`);
}

/** The 110M model directory: the random checkpoint's config and weights with the shipped tokenizer and chat template. */
function model110m(): string {
  const weights = join(cache, 'llama-110m');
  execFileSync(values.python!, [join(root, 'bench', 'forward', 'make_checkpoint.py'), weights], { stdio: 'inherit' });
  const dir = join(cache, 'otd-llama-110m');
  mkdirSync(dir, { recursive: true });
  for (const f of ['config.json', 'generation_config.json', 'model.safetensors'])
    if (!existsSync(join(dir, f))) symlinkSync(join(weights, f), join(dir, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json'])
    copyFileSync(join(root, 'data', 'model', f), join(dir, f));
  return dir;
}

const workers = ['--workers', values.workers!];
if (values.only !== '110m')
  report('shipped default (52 prompts × 5 derangements, generation included)', timed(join(tmp, 'default'), workers));

if (values.only !== 'default') {
  const n = Number(values.prompts);
  // Responses: the first reference answer of each of the first n shipped prompts (a random model's own replies are noise).
  const answers = new Map<string, string>();
  for (const line of readFileSync(join(root, 'data', 'corpus', 'answers.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)) {
    const { prompt, answer } = JSON.parse(line);
    if (!answers.has(prompt)) answers.set(prompt, answer);
  }
  const prompts = [...answers.keys()].slice(0, n);
  writeFileSync(join(tmp, 'prompts.txt'), prompts.join('\n'));
  writeFileSync(
    join(tmp, 'responses.json'),
    JSON.stringify(Object.fromEntries(prompts.map((p) => [p, answers.get(p)]))),
  );
  writeFileSync(join(tmp, 'texts.json'), JSON.stringify(prompts.map((p) => `${p} ${answers.get(p)}`)));
  const model = model110m();
  const sae = join(cache, 'sae-16k-l6');
  execFileSync(values.python!, [join(import.meta.dirname, 'make_sae.py'), model, sae, '6', join(tmp, 'texts.json')], {
    stdio: 'inherit',
  });
  const m = timed(join(tmp, '110m'), [
    '--model',
    model,
    '--sae',
    sae,
    '--prompts',
    join(tmp, 'prompts.txt'),
    '--responses',
    join(tmp, 'responses.json'),
    '--derangements',
    '5',
    ...workers,
  ]);
  report(`random Llama 110M + 16,384-wide SAE at layer 6 (${n} prompts × 5 derangements, given responses)`, m);
  // The analysis alone (pooling, statistics, stability) on that store, without the model.
  const analysis = timed(join(tmp, '110m-analysis'), ['--activations', join(tmp, '110m', 'activations.acts')]);
  report('  of which the analysis of its store alone (--activations)', { ...analysis, codes_mb: m.codes_mb });
}
rmSync(tmp, { recursive: true, force: true });
