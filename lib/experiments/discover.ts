// When `--latents topK` finds no discovery run on the shipped default, run find-otd-latents first with
// that command's own defaults (the same run `npx analyze find-otd-latents` would make).
import { join } from 'node:path';
import type { Session } from '../session.ts';
import { runDiscovery } from '../discovery/run.ts';
import { newRunDir } from '../runs/dirs.ts';
import { DISCOVERY_COMMAND } from './latents.ts';

export async function discoverFirst(session: Session, o: { prompts: string[]; paths: { model: string; sae: string; prompts: string }; backend: string | null; log: (line: string) => void }): Promise<string> {
  const out = newRunDir(DISCOVERY_COMMAND);
  o.log(`no ${DISCOVERY_COMMAND} run found: running discovery first into ${out} (as \`analyze ${DISCOVERY_COMMAND}\` would)`);
  const batchSize = 8;
  await runDiscovery(session, {
    out,
    prompts: o.prompts,
    responses: null,
    generation: { maxNewTokens: 64, temperature: 0.6, topK: 0, topP: 1, repetitionPenalty: 1.1, seed: 0, batchSize },
    derangements: 5,
    seed: 0,
    span: 'response',
    find: { pool: 'max', method: 'separability', top: 100 },
    holdout: null,
    batchSize,
    paths: { ...o.paths, responses: null },
    backend: o.backend,
    log: (line) => o.log(`  ${line}`),
  });
  return join(out, 'latents.json');
}
