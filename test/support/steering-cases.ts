// Steering (add) and clamping through the model against transformers forward hooks applying the same
// formula (test/fixtures/steering/make_steering.py), for prefill and KV-cached decode, with the read-out at a
// later feature layer seeing the intervened stream; registered by each backend's test file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SafetensorsFile } from '../../lib/io/safetensors.ts';
import { loadModel } from '../../lib/model/load.ts';
import { denseCodes, encodeSparse, loadSae } from '../../lib/sae/index.ts';
import { interventionHooks } from '../../lib/steering/interventions.ts';
import type { Intervention } from '../../lib/steering/types.ts';
import { type CaseOptions, caseBackend, maxAbsDiff } from './model-cases.ts';

export const FIX = join(import.meta.dirname, '..', 'fixtures');
export const steeringExpected = new SafetensorsFile(join(FIX, 'steering', 'expected.safetensors'));
export const steeringCases: Record<
  string,
  { model: string; sae: string; feature_layer: number; interventions: Intervention[] }
> = JSON.parse(readFileSync(join(FIX, 'steering', 'cases.json'), 'utf8'));

export function registerSteeringCases(o: CaseOptions = {}): void {
  const prefix = o.prefix ?? '';
  for (const [name, c] of Object.entries(steeringCases)) {
    const load = async () => {
      const model = await loadModel(join(FIX, 'models', c.model), caseBackend(o));
      const sae = loadSae(join(FIX, 'sae', c.sae));
      return { model, sae, hooks: interventionHooks(sae, c.interventions, model.config.numLayers) };
    };
    let loaded: ReturnType<typeof load> | null = null; // by the first test that runs
    const ids = Array.from(steeringExpected.read(`${name}.ids`).data, Number);
    const wantLogits = steeringExpected.read(`${name}.logits`).data;
    const t = (title: string, fn: (l: Awaited<ReturnType<typeof load>>) => Promise<void>) =>
      test(`${prefix}${name}: ${title}`, { skip: o.skip }, async () => fn(await (loaded ??= load())));

    t(
      'steered + clamped prefill matches transformers hooks (logits and feature-layer codes)',
      async ({ model, sae, hooks }) => {
        const cache = model.newCache(1, 256);
        const out = await model.forward([ids], cache, {
          hooks,
          readLayers: [c.feature_layer],
        });
        assert.ok(maxAbsDiff(await out.logits!.data(), wantLogits) < 1e-4, 'logits');
        const codes = await encodeSparse(sae, out.resid.get(c.feature_layer)!);
        assert.ok(maxAbsDiff(denseCodes(codes), steeringExpected.read(`${name}.codes`).data) < 1e-4, 'codes');
        out.logits!.dispose();
        out.resid.forEach((r) => r.dispose());
        cache.dispose();
      },
    );

    t('the same through prefill then token-by-token decode', async ({ model, hooks }) => {
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
      assert.ok(maxAbsDiff(logits, wantLogits) < 1e-4);
    });

    t('without the interventions the logits differ (the test can fail)', async ({ model }) => {
      const cache = model.newCache(1, 256);
      const out = await model.forward([ids], cache);
      assert.ok(maxAbsDiff(await out.logits!.data(), wantLogits) > 1e-2);
      out.logits!.dispose();
      cache.dispose();
    });
  }
}
