// When `--latents topK` finds no discovery run on the shipped default, run find-otd-latents first with
// its own defaults (the same run `npx analyze find-otd-latents` would make).
import { join } from 'node:path';
import { DISCOVERY_COMMAND } from '../discovery/options.ts';
import { runDiscovery } from '../discovery/run.ts';
import { newRunDir } from '../runs/dirs.ts';
import type { Session } from '../session.ts';

export async function discoverFirst(
  session: Session,
  o: { prompts: string[]; promptsFile: string | null; log: (line: string) => void },
): Promise<string> {
  const out = newRunDir(DISCOVERY_COMMAND);
  o.log(
    `no ${DISCOVERY_COMMAND} run found: running discovery first into ${out} (as \`analyze ${DISCOVERY_COMMAND}\` would)`,
  );
  await runDiscovery(session, {
    out,
    prompts: o.prompts,
    paths: { prompts: o.promptsFile },
    log: (line) => o.log(`  ${line}`),
  });
  return join(out, 'latents.json');
}
