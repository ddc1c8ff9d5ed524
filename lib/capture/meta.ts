// meta.json of an activation store: the model, SAE, hook point and settings it was captured with.
import type { Session } from '../session.ts';
import { sha256Text } from '../io/hash.ts';
import { hookName } from '../model/hooks.ts';
import { modelProvenance, runtimeProvenance } from '../runs/provenance.ts';
import type { StoreMeta } from '../store/schema.ts';

export function storeMeta(
  session: Session,
  modelDir: string,
  backend: string | null,
  contentHashes: Record<string, string>,
  settings: Record<string, unknown>,
): StoreMeta {
  return {
    model: modelProvenance(modelDir, session.paths.adapter),
    sae: session.sae.info,
    layer: session.hook.layer,
    hook: hookName(session.hook),
    d_sae: session.sae.dSae,
    chat_template_hash: session.tokenizer.chatTemplate ? sha256Text(session.tokenizer.chatTemplate) : null,
    content_hashes: contentHashes,
    settings,
    runtime: runtimeProvenance(backend),
  };
}
