// TopK SAE (SAELens `topk`, and `standard` with activation_fn_str "topk"): relu of the k largest z + b_enc
// per token; ties go to the lower latent index (lib/sae/topk.ts).
import type { KLargest } from './types.ts';

export const topk: KLargest = {
  describe: 'TopK: relu of the k largest pre-activations per token (ties to the lower latent index)',
  saeLens: [{ architecture: 'topk' }, { architecture: 'standard', activationFn: 'topk' }],
  vectors: { b_enc: { stored: [{ name: 'b_enc' }] } },
  select: 'topk',
  value: (z, j, v) => Math.fround(z + v.b_enc[j]),
};
