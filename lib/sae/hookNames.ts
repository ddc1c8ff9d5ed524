// Where an SAE says it was trained, for the formats whose files carry no hook name: Gemma Scope's repository
// and folder names and Goodfire's file names. The names are TransformerLens hook names (lib/model/hooks.ts
// parses them); a SAELens cfg.json names its own (`hook_name`).
import { resolve, sep } from 'node:path';
import { InputError } from '../errors.ts';

export interface NamedHook {
  /** A TransformerLens hook name. */
  name: string;
  /** Where the name came from, for provenance and messages. */
  source: string;
  /**
   * Gemma Scope's embedding SAEs were trained on the embeddings before Gemma's √d_model scale, while hook_embed
   * (TransformerLens, and this toolkit) is after it: the loader rescales (W_enc / √d_in, W_dec and b_dec · √d_in).
   */
  unscaledEmbedding?: boolean;
}

/**
 * Gemma Scope (google/gemma-scope-<2b|9b|27b>-<pt|it>-<res|mlp|att>, folders `layer_L/width_W/average_l0_K`
 * or `embedding/...`), mapped as SAELens' gemma_2 loader maps them: res → blocks.L.hook_resid_post (embedding →
 * hook_embed), mlp → blocks.L.hook_mlp_out, att → blocks.L.attn.hook_z. Null when the path does not say
 * (a params.npz copied elsewhere).
 */
export function gemmaScopeHook(path: string): NamedHook | null {
  const parts = resolve(path).split(sep);
  const repo = parts.map((p) => /gemma-scope-(2b|9b|27b)-(pt|it)-(res|mlp|att|transcoders)/.exec(p)).find(Boolean);
  if (!repo) return null;
  const site = repo[3];
  const source = `the Gemma Scope path (${repo[0]})`;
  if (site === 'transcoders')
    throw new InputError(
      `${path}: a Gemma Scope transcoder (it reads an MLP's input and predicts its output); transcoders are not supported, only SAEs`,
    );
  if (parts.includes('embedding')) {
    if (site !== 'res') return null;
    return { name: 'hook_embed', source, unscaledEmbedding: true };
  }
  const layer = parts.map((p) => /^layer_(\d+)$/.exec(p)).find(Boolean);
  if (!layer) return null;
  const L = layer[1];
  const name = {
    res: `blocks.${L}.hook_resid_post`,
    mlp: `blocks.${L}.hook_mlp_out`,
    att: `blocks.${L}.attn.hook_z`,
  }[site as 'res' | 'mlp' | 'att'];
  return { name, source };
}

/**
 * Goodfire: repositories and files named `<model>-SAE-l<L>` (Llama-3.1-8B-Instruct-SAE-l19.pth,
 * Llama-3.3-70B-Instruct-SAE-l50.pt), trained on the output of decoder layer L (`model.layers.L`, which
 * Goodfire's model cards name) = blocks.L.hook_resid_post. Null when the name does not say.
 */
export function goodfireHook(path: string): NamedHook | null {
  const parts = resolve(path).split(sep);
  for (const p of [...parts].reverse()) {
    const m = /-SAE-l(\d+)(?:\.pth?)?$/i.exec(p) ?? /__model\.layers\.(\d+)(?:\.pth?)?$/.exec(p);
    if (m) return { name: `blocks.${m[1]}.hook_resid_post`, source: `the Goodfire name ${p}` };
  }
  return null;
}
