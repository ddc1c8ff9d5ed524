// Hook points: the named places of the forward pass where activations are read and SAE interventions act,
// with TransformerLens' names (what SAELens SAEs carry in `hook_name`). One module parses, checks and names
// them; everything that used a layer number uses a HookPoint.
import { SettingError } from '../errors.ts';

/**
 * The sites, in forward order within a block (`embed` comes once, before block 0):
 * - embed: the token embeddings (Gemma-2: already × √d_model, as TransformerLens folds it into W_E);
 * - resid_pre: the input of block L (= resid_post of L − 1, the embeddings for L = 0);
 * - attn_z: the attention heads' outputs, concatenated [T, n_heads·head_dim], before o_proj;
 * - attn_out: the attention output added into the stream (after o_proj and, for Gemma-2, its post-attention norm);
 * - resid_mid: the stream between attention and MLP;
 * - mlp_out: the MLP output added into the stream (after down_proj and, for Gemma-2, its post-feedforward norm);
 * - resid_post: the output of block L, before any final norm.
 */
export const HOOK_KINDS = ['embed', 'resid_pre', 'attn_z', 'attn_out', 'resid_mid', 'mlp_out', 'resid_post'] as const;
export type HookKind = (typeof HOOK_KINDS)[number];

/** A hook point. `layer` is the block (0 for `embed`, as SAELens' hook_layer has it). */
export interface HookPoint {
  kind: HookKind;
  layer: number;
}

/** What a model must say about itself for its hook points to be checked. */
export interface HookShape {
  numLayers: number;
  hiddenSize: number;
  numHeads: number;
  headDim: number;
}

const TL_SUFFIX: Record<Exclude<HookKind, 'embed'>, string> = {
  resid_pre: 'hook_resid_pre',
  attn_z: 'attn.hook_z',
  attn_out: 'hook_attn_out',
  resid_mid: 'hook_resid_mid',
  mlp_out: 'hook_mlp_out',
  resid_post: 'hook_resid_post',
};
const KIND_OF_SUFFIX = new Map(Object.entries(TL_SUFFIX).map(([k, s]) => [s, k as HookKind]));

/** The accepted spellings, for error messages. */
export const HOOK_FORMS =
  'hook_embed, blocks.L.hook_resid_pre, blocks.L.hook_resid_post, blocks.L.hook_attn_out, blocks.L.hook_mlp_out, ' +
  'blocks.L.hook_resid_mid, blocks.L.attn.hook_z (TransformerLens/SAELens names), the short forms resid_post.L, ' +
  'resid_pre.L, attn_out.L, mlp_out.L, resid_mid.L, attn_z.L, the Hugging Face module model.layers.L (its output, ' +
  '= resid_post.L), or a layer number L (= resid_post.L)';

/** The canonical (TransformerLens) name: `hook_embed`, `blocks.3.hook_resid_pre`, `blocks.3.attn.hook_z`, … */
export function hookName(p: HookPoint): string {
  return p.kind === 'embed' ? 'hook_embed' : `blocks.${p.layer}.${TL_SUFFIX[p.kind]}`;
}

/** resid_post.L: what a bare layer number means. */
export const residPost = (layer: number): HookPoint => ({ kind: 'resid_post', layer });

/** The hook point a name denotes, or null when the name is none of HOOK_FORMS. */
export function tryParseHook(text: string): HookPoint | null {
  const s = text.trim();
  if (s === 'hook_embed' || s === 'embed') return { kind: 'embed', layer: 0 };
  if (/^\d+$/.test(s)) return residPost(Number(s));
  let m = /^blocks\.(\d+)\.(.+)$/.exec(s);
  if (m) {
    const kind = KIND_OF_SUFFIX.get(m[2]);
    return kind ? { kind, layer: Number(m[1]) } : null;
  }
  m = /^(resid_pre|resid_post|attn_out|mlp_out|resid_mid|attn_z)\.(\d+)$/.exec(s);
  if (m) return { kind: m[1] as HookKind, layer: Number(m[2]) };
  // Hugging Face module names (Goodfire's `model.layers.19`; nnsight's `model.model.layers.19`): a decoder
  // layer's output is the residual stream after it.
  m = /^(?:model\.)?model\.layers\.(\d+)$/.exec(s);
  if (m) return residPost(Number(m[1]));
  return null;
}

/** Parses a hook name (any of HOOK_FORMS); `what` names the setting (`‹layer›`) or field in the error. */
export function parseHook(text: string, what: string): HookPoint {
  const p = tryParseHook(text);
  if (!p) throw new SettingError(`${what}: "${text}" is not a hook point; expected one of ${HOOK_FORMS}`);
  return p;
}

/** Checks the hook point exists in this model; the error names the valid range. */
export function checkHook(p: HookPoint, model: HookShape, what: string): HookPoint {
  if (p.kind !== 'embed' && !(Number.isInteger(p.layer) && p.layer >= 0 && p.layer < model.numLayers)) {
    const last = model.numLayers - 1;
    throw new SettingError(`${what}: ${hookName(p)} names layer ${p.layer}, but the model has layers 0..${last}`);
  }
  return p;
}

/** Parses and checks in one step (`what`: the flag or field, named with the text in errors). */
export function resolveHook(text: string, model: HookShape, what: string): HookPoint {
  return checkHook(parseHook(text, what), model, `${what} ${text}`);
}

/** The width of the activation at a hook point: d_model, or n_heads·head_dim for attn_z. */
export function hookWidth(p: HookPoint, model: HookShape): number {
  return p.kind === 'attn_z' ? model.numHeads * model.headDim : model.hiddenSize;
}

export const sameHook = (a: HookPoint, b: HookPoint): boolean => a.kind === b.kind && a.layer === b.layer;

/**
 * The last block a forward pass must run to produce this hook point: −1 for the embeddings, L − 1 for
 * resid_pre.L (the input of block L is ready once block L − 1 has run), else L.
 */
export function lastBlockFor(p: HookPoint): number {
  return p.kind === 'embed' ? -1 : p.kind === 'resid_pre' ? p.layer - 1 : p.layer;
}
