// Numbers the docs quote about the shipped default that follow from its files and default settings are
// computed here and must be what the docs say, so a new prompt set or default cannot leave them stale.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { discoveryOptions } from '../../lib/discovery/options.ts';
import { discoveryWork } from '../../lib/discovery/work.ts';
import { SHIPPED } from '../../lib/settings/shipped.ts';
import { ROOT } from '../support/cli.ts';

const n = (x: number) => x.toLocaleString('en-US');
/** Whitespace-insensitive: the docs wrap lines anywhere. */
const flat = (s: string) => s.replace(/\s+/g, ' ');

test("docs/find-otd-latents.md quotes the shipped default's planned work and pair count as the settings give them", () => {
  const o = discoveryOptions({ out: mkdtempSync(join(tmpdir(), 'docs-numbers-')) }, SHIPPED);
  const w = discoveryWork(o);
  const p = o.prompts.length;
  const doc = flat(readFileSync(join(ROOT, 'docs', 'find-otd-latents.md'), 'utf8'));
  const plan = `${n(w.responses)} responses (at most ${n(w.tokenBudget)} generated tokens), ${n(w.samples)} captured sequences (${p} prompts × (own response + ${o.derangements} others')), at most ${n(w.forwardPasses)} batched passes of ${o.batchSize}`;
  assert.ok(doc.includes(plan), `docs/find-otd-latents.md should say: ${plan}`);
  const pairs = `of the ${n(p * o.derangements)} (prompt, response) pairs of the shipped default`;
  assert.ok(doc.includes(pairs), `docs/find-otd-latents.md should say: ${pairs}`);
});
