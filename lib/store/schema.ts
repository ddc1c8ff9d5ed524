// The activation store's files (docs/design.md "Activation store"): codes.arrow, samples.arrow, meta.json.

/** One sample (a rendered prompt/response pair) as written to samples.arrow. */
export interface SampleRow {
  id: string;
  condition: string;
  prompt_id: string;
  response_id: string | null;
  n_tokens: number;
  span_start: number;
  span_end: number;
  /** Extra labelled spans (episodes): name → [start, end) in tokens, or null when the region is missing. */
  spans?: Record<string, [number, number] | null>;
}

/** Code rows of one batch: `sample` indexes the batch's own sample list (the writer numbers them globally). */
export interface CodeRows {
  sample: Int32Array;
  token: Int32Array;
  latent: Int32Array;
  value: Float32Array;
}

/** One batch of activation-store code rows; `row` is the sample's row in samples.arrow. */
export interface CodeBatch {
  row: Int32Array;
  token: Int32Array;
  latent: Int32Array;
  value: Float32Array | Float64Array;
}

export interface StoreMeta {
  model: unknown;
  sae: unknown;
  /** The feature hook point's block (stores written before hook points were named: resid_post.layer). */
  layer: number | string;
  /** The feature hook point's name (`blocks.3.hook_resid_pre`); absent in stores written before hook points were named. */
  hook?: string;
  d_sae: number;
  chat_template_hash?: string | null;
  content_hashes?: Record<string, string>;
  settings?: Record<string, unknown>;
  [key: string]: unknown;
}

export const CODES_FILE = 'codes.arrow';
export const SAMPLES_FILE = 'samples.arrow';
export const META_FILE = 'meta.json';
export const PARTS_DIR = 'parts';
