// Every `npx analyze COMMAND …` line shown in README.md and docs/*.md names a real command and only flags that
// command accepts, so a command copied from the docs is not refused as unknown. The flags are read from the
// commands' own yargs builders (in-process; nothing runs).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DOC_FILES } from '../support/docs.ts';
import yargs, { type Argv, type Options } from 'yargs';
import { COMMANDS } from '../../analyses/commands.ts';
import { backendOption } from '../../lib/cli/options.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** The flags (every spelling yargs accepts: keys and aliases) of one command, global ones included. */
function flagsOf(cmd: { builder?: unknown }): Set<string> {
  const y = backendOption(yargs([]));
  const built =
    typeof cmd.builder === 'function'
      ? (cmd.builder as (y: Argv) => Argv)(y)
      : y.options((cmd.builder ?? {}) as Record<string, Options>);
  // getOptions is yargs' own (untyped in @types/yargs): every key and alias it will accept
  const opts = (
    built as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }
  ).getOptions();
  const names = new Set<string>(['help', 'version', ...Object.keys(opts.key)]);
  for (const [k, aliases] of Object.entries(opts.alias)) for (const a of [k, ...aliases]) names.add(a);
  return names;
}

/** `npx analyze …` command lines in a document's text: the command word and the flags given, comments cut. */
function commandLines(text: string): { line: string; command: string; flags: string[] }[] {
  const out: { line: string; command: string; flags: string[] }[] = [];
  const joined = text.replace(/\\\n\s*/g, ' '); // shell continuation lines
  for (const m of joined.matchAll(/npx analyze ([a-z-]+)([^\n`]*)/g)) {
    const args = m[2].replace(/\s#.*$/, '');
    const flags = [...args.matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)].map((f) => f[1]);
    out.push({ line: m[0].trim(), command: m[1], flags });
  }
  return out;
}

test('every analyze command shown in the README and docs exists and accepts every flag shown with it', () => {
  const byName = new Map<string, Set<string>>();
  for (const cmd of COMMANDS) byName.set(String(cmd.command).split(/\s/)[0], flagsOf(cmd));
  const problems: string[] = [];
  let checked = 0;
  for (const doc of DOC_FILES) {
    for (const { line, command, flags } of commandLines(readFileSync(join(ROOT, doc), 'utf8'))) {
      const known = byName.get(command);
      if (!known) {
        problems.push(`${doc}: \`${line}\`: no command ${command}`);
        continue;
      }
      checked++;
      for (const f of flags) if (!known.has(f)) problems.push(`${doc}: \`${line}\`: ${command} has no --${f}`);
    }
  }
  assert.ok(checked > 40, `only ${checked} command lines found in the docs`);
  assert.deepEqual(problems, []);
});

test('the check sees an unknown flag and an unknown command (it can fail)', () => {
  const lines = commandLines('npx analyze ablate --latents top26 --no-such-flag 3 # --ignored\nnpx analyze nothing');
  assert.deepEqual(lines[0].flags, ['latents', 'no-such-flag']);
  const ablate = COMMANDS.find((c) => String(c.command).startsWith('ablate'));
  assert.ok(ablate);
  const known = flagsOf(ablate);
  assert.ok(known.has('latents') && known.has('backend') && !known.has('no-such-flag'));
  assert.equal(lines[1].command, 'nothing');
});
