// The options tables in the docs, generated from the commands' settings tables: between
// `<!-- settings: NAME … -->` and `<!-- /settings -->`. `npm run docs:settings` rewrites them;
// test/project/settings-docs.test.ts fails when one is out of date.
//   node --import tsx scripts/settings-docs.ts [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SETTINGS as ABLATE } from '../analyses/ablate.ts';
import { SETTINGS as CAPTURE } from '../analyses/capture.ts';
import { SETTINGS as FIND } from '../analyses/find-otd-latents.ts';
import { SETTINGS as FINETUNE_DATA } from '../analyses/finetune-data.ts';
import { SETTINGS as FORWARD } from '../analyses/forward.ts';
import { SETTINGS as GENERATE } from '../analyses/generate.ts';
import { SETTINGS as JUDGE } from '../analyses/judge.ts';
import { SETTINGS as METRICS } from '../analyses/metrics.ts';
import { SETTINGS as PLOT } from '../analyses/plot.ts';
import { SETTINGS as REPORT } from '../analyses/report.ts';
import { SETTINGS as STATS } from '../analyses/stats.ts';
import { settingsTable } from '../lib/settings/docs.ts';
import type { Table } from '../lib/settings/table.ts';

const ROOT = join(import.meta.dirname, '..');

/** Each generated block: the doc file and the table it shows. */
export const SETTINGS_DOCS: { file: string; name: string; table: Table }[] = [
  { file: 'docs/find-otd-latents.md', name: 'find-otd-latents', table: FIND },
  { file: 'docs/ablate.md', name: 'ablate', table: ABLATE },
  { file: 'docs/judge.md', name: 'judge', table: JUDGE },
  { file: 'docs/commands.md', name: 'capture', table: CAPTURE },
  { file: 'docs/commands.md', name: 'forward', table: FORWARD },
  { file: 'docs/commands.md', name: 'generate', table: GENERATE },
  { file: 'docs/commands.md', name: 'finetune-data', table: FINETUNE_DATA },
  { file: 'docs/commands.md', name: 'stats', table: STATS },
  { file: 'docs/commands.md', name: 'metrics', table: METRICS },
  { file: 'docs/commands.md', name: 'plot', table: PLOT },
  { file: 'docs/commands.md', name: 'report', table: REPORT },
];

const BLOCK = /(<!-- settings: ([\w-]+) [^\n]*-->\n)[\s\S]*?(<!-- \/settings -->)/g;

/** A doc's text with its blocks regenerated. */
export function regenerated(text: string, file: string): string {
  return text.replace(BLOCK, (_, open: string, name: string, close: string) => {
    const doc = SETTINGS_DOCS.find((d) => d.file === file && d.name === name);
    if (!doc) throw new Error(`${file}: no settings table named ${name}`);
    return `${open}${settingsTable(doc.table)}\n${close}`;
  });
}

if (process.argv[1] === import.meta.filename) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const file of new Set(SETTINGS_DOCS.map((d) => d.file))) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const next = regenerated(text, file);
    if (next === text) continue;
    stale++;
    if (check) console.error(`${file}: options table out of date (npm run docs:settings)`);
    else {
      writeFileSync(join(ROOT, file), next);
      console.log(`wrote ${file}`);
    }
  }
  if (check && stale) process.exit(1);
}
