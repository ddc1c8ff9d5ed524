// The intervention record (docs/design.md "Interventions"): one SAE latent edited at one layer, on every
// position. Trials store it, captures and generation tasks carry it, flags parse into it.
import type { InterventionSpec } from '../sae/index.ts';

/** `add` v to the latent's code, or `clamp` it to v (`clamp 0` = zero-ablation), at resid_post.layer. */
export interface Intervention extends InterventionSpec {
  layer: number;
}
