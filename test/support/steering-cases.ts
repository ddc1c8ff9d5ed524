// SAE read-out, steering (add) and clamping at named hook points through the model, against transformers
// forward hooks and pre-hooks applying the same formula (test/fixtures/steering/make_steering.py): every hook
// point (embed, resid_pre, attn.hook_z, attn_out, resid_mid, mlp_out, resid_post) on the Llama and Gemma-2
// fixtures, for prefill, KV-cached decode and the encode task that capture runs; registered by each backend's
// test file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { hookName } from '../../lib/model/hooks.ts';
import { loadModel } from '../../lib/model/load.ts';
import { runTask } from '../../lib/parallel/tasks.ts';
import { denseCodes, encodeSparse, loadSae } from '../../lib/sae/index.ts';
import { featureHook } from '../../lib/session.ts';
import { interventionHooks } from '../../lib/steering/interventions.ts';
import type { Intervention } from '../../lib/steering/types.ts';
import type { CodeRows } from '../../lib/store/schema.ts';
import { type CaseOptions, caseBackend, maxAbsDiff } from './model-cases.ts';

export const FIX = join(import.meta.dirname, '..', 'fixtures');
export const steeringExpected = new SafetensorsFile(join(FIX, 'steering', 'expected.safetensors'));

export interface SteeringVariant {
  /** The hook point whose SAE codes are compared. */
  read: string;
  interventions: Intervention[];
}

export interface SteeringCase {
  model: string;
  /** The SAE, relative to test/fixtures. */
  sae: string;
  /** The hook point the SAE's cfg.json names. */
  sae_hook: string;
  variants: Record<string, SteeringVariant>;
}

export const steeringCases: Record<string, SteeringCase> = JSON.parse(
  readFileSync(join(FIX, 'steering', 'cases.json'), 'utf8'),
);

const TOL = 1e-4;

/** Dense [tokens, d_sae] codes of one sequence's code rows. */
function dense(rows: CodeRows, tokens: number, dSae: number): Float32Array {
  const out = new Float32Array(tokens * dSae);
  for (let i = 0; i < rows.latent.length; i++) out[rows.token[i] * dSae + rows.latent[i]] = rows.value[i];
  return out;
}

export function registerSteeringCases(o: CaseOptions = {}): void {
  const prefix = o.prefix ?? '';
  for (const [name, c] of Object.entries(steeringCases)) {
    const load = async () => ({
      model: await loadModel(join(FIX, 'models', c.model), caseBackend(o)),
      sae: loadSae(join(FIX, c.sae)),
    });
    let loaded: ReturnType<typeof load> | null = null; // by the first test that runs
    const ids = Array.from(steeringExpected.read(`${name}.ids`).data, Number);
    const t = (title: string, fn: (l: Awaited<ReturnType<typeof load>>) => Promise<void>) =>
      test(`${prefix}${name}: ${title}`, { skip: o.skip }, async () => fn(await (loaded ??= load())));

    t(`the SAE's hook point is read from its cfg.json (${c.sae_hook})`, async ({ model, sae }) => {
      assert.equal(hookName(featureHook(sae, model.config)), c.sae_hook);
    });

    for (const [v, { read, interventions }] of Object.entries(c.variants)) {
      const wantLogits = steeringExpected.read(`${name}.${v}.logits`).data;
      const wantCodes = steeringExpected.read(`${name}.${v}.codes`).data;
      const what = interventions.length
        ? interventions.map((iv) => `${iv.mode} ${iv.latent} at ${iv.hook}`).join(', ')
        : 'no intervention';

      t(`${v} (${what}): prefill logits and the codes at ${read} match transformers`, async ({ model, sae }) => {
        const cache = model.newCache(1, 256);
        const out = await model.forward([ids], cache, {
          hooks: interventionHooks(sae, interventions, model.config),
          read: [read],
        });
        const dLogits = maxAbsDiff(await out.logits!.data(), wantLogits);
        assert.ok(dLogits < TOL, `logits: ${dLogits}`);
        const dCodes = maxAbsDiff(denseCodes(await encodeSparse(sae, out.acts.get(read)!)), wantCodes);
        assert.ok(dCodes < TOL, `codes: ${dCodes}`);
        out.logits!.dispose();
        out.acts.forEach((r) => r.dispose());
        cache.dispose();
      });

      t(`${v}: the encode task (what capture runs) gives the same codes at ${read}`, async ({ model, sae }) => {
        const rows = (await runTask(
          { model, sae },
          { kind: 'encode', hook: read, sequences: [ids], interventions: [interventions] },
        )) as CodeRows;
        const d = maxAbsDiff(dense(rows, ids.length, sae.dSae), wantCodes);
        assert.ok(d < TOL, `codes: ${d}`);
      });

      if (!interventions.length) continue;
      t(`${v}: the same logits through prefill then token-by-token decode`, async ({ model, sae }) => {
        const hooks = interventionHooks(sae, interventions, model.config);
        const cache = model.newCache(1, 256);
        const logits: number[] = [];
        const step = async (chunk: number[]) => {
          const out = await model.forward([chunk], cache, { hooks });
          logits.push(...(await out.logits!.data()));
          out.logits!.dispose();
        };
        await step(ids.slice(0, 7));
        for (let i = 7; i < ids.length; i++) await step([ids[i]]);
        cache.dispose();
        assert.ok(maxAbsDiff(logits, wantLogits) < TOL);
      });

      t(`${v}: without the interventions the logits differ (the test can fail)`, async ({ model }) => {
        const cache = model.newCache(1, 256);
        const out = await model.forward([ids], cache);
        assert.ok(maxAbsDiff(await out.logits!.data(), wantLogits) > 1e-2);
        out.logits!.dispose();
        cache.dispose();
      });
    }
  }
}
