// The intervention record (docs/design.md "Interventions"): one SAE latent edited at one hook point, on every
// position. Trials store it, captures and generation tasks carry it, flags parse into it.
import type { InterventionSpec } from '../sae/index.ts';

/**
 * `add` v to the latent's code, or `clamp` it to v (`clamp 0` = zero-ablation), at the hook point `hook`
 * (its canonical TransformerLens name, e.g. `blocks.3.hook_resid_pre`). `layer` is that hook point's block,
 * kept for readers of records written before hook points were named (which meant resid_post.layer).
 */
export interface Intervention extends InterventionSpec {
  hook: string;
  layer: number;
}
