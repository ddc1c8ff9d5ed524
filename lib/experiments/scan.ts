// One pass over the chat-rendered prompts at a hook point: which latents fire on them (the pool
// that --n-features samples from), and the typical size of the residual stream there (the scale of the
// default calibration range).
import { type HookPoint, hookName } from '../model/hooks.ts';
import type { Sae } from '../sae/index.ts';
import { type Executor, runOrdered } from '../parallel/pool.ts';
import type { EncodeTask } from '../parallel/tasks.ts';

export interface PromptScan {
  /** Latents with a non-zero code on at least one prompt token, ascending. */
  alive: number[];
  /** Median over prompt tokens (BOS excluded) of ‖decode(encode(h))‖, the SAE's view of ‖h‖. */
  medianNorm: number;
}

export async function scanPrompts(
  executor: Executor,
  sae: Sae,
  hook: HookPoint,
  sequences: number[][],
  batchSize: number,
): Promise<PromptScan> {
  const tasks: EncodeTask[] = [];
  for (let i = 0; i < sequences.length; i += batchSize)
    tasks.push({ kind: 'encode', hook: hookName(hook), sequences: sequences.slice(i, i + batchSize) });
  const alive = new Set<number>();
  const norms: number[] = [];
  const d = sae.dIn;
  await runOrdered(executor, tasks, (rows, b) => {
    const batch = tasks[b].sequences;
    // reconstruction per (sample, token): b_dec + Σ value · W_dec[latent]
    const recon = new Map<string, Float64Array>();
    for (let r = 0; r < rows.latent.length; r++) {
      alive.add(rows.latent[r]);
      if (rows.token[r] === 0) continue;
      const key = `${rows.sample[r]}:${rows.token[r]}`;
      let v = recon.get(key);
      if (!v) recon.set(key, (v = Float64Array.from(sae.bDec)));
      const row = sae.decoder.gatherRowsF32([rows.latent[r]]);
      for (let j = 0; j < d; j++) v[j] += rows.value[r] * row[j];
    }
    const tokens = batch.reduce((s, seq) => s + seq.length - 1, 0);
    for (const v of recon.values()) norms.push(Math.hypot(...v));
    // tokens where no latent fired reconstruct to b_dec alone
    const bNorm = Math.hypot(...sae.bDec);
    for (let k = recon.size; k < tokens; k++) norms.push(bNorm);
  });
  norms.sort((a, b) => a - b);
  return {
    alive: [...alive].sort((a, b) => a - b),
    medianNorm: norms.length ? norms[Math.floor(norms.length / 2)] : 0,
  };
}

/** ‖W_dec[latent]‖: how much one unit of boost moves the residual stream. */
export function decoderNorm(sae: Sae, latent: number): number {
  return Math.hypot(...sae.decoder.gatherRowsF32([latent]));
}
