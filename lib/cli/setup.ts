// Loading what most commands need — model, tokenizer, SAE — with the cross-checks between them.
import { InputError } from '../errors.ts';
import { loadModel } from '../model/load.ts';
import { loadTokenizer, type Tokenizer } from '../model/tokenizer.ts';
import type { Transformer } from '../model/transformer.ts';
import { loadSae, type Sae } from '../sae/index.ts';

export interface ModelAndSae {
  model: Transformer;
  tokenizer: Tokenizer;
  sae: Sae;
  /** The feature (read-out) layer. */
  layer: number;
}

/** The layer an SAE was trained on, from its hook name (`blocks.L.hook_resid_post`), when it says. */
export function saeHookLayer(sae: Sae): number | null {
  const m = /^blocks\.(\d+)\./.exec(sae.info.hookName ?? '');
  return m ? Number(m[1]) : null;
}

export function checkLayer(layer: number, model: Transformer, flag = '--layer'): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= model.config.numLayers) {
    throw new InputError(`${flag} ${layer}: the model has layers 0..${model.config.numLayers - 1}`);
  }
}

export function loadModelAndSae(modelDir: string, saePath: string, layer?: number): ModelAndSae {
  const model = loadModel(modelDir);
  const tokenizer = loadTokenizer(modelDir);
  const sae = loadSae(saePath);
  if (sae.dIn !== model.config.hiddenSize) {
    throw new InputError(`${saePath}: the SAE's d_in is ${sae.dIn} but the model's hidden size is ${model.config.hiddenSize} (${modelDir})`);
  }
  const resolved = layer ?? saeHookLayer(sae);
  if (resolved === null) throw new InputError(`${saePath}: the SAE names no layer (no hook_name); give --layer`);
  checkLayer(resolved, model);
  return { model, tokenizer, sae, layer: resolved };
}
