// Opening what a command works on from its flags: the session settings checked, then the backend, the
// model (with its adapter) and the SAE opened (in this thread or on workers), and always closed afterwards.
import { type Backend, openBackend } from '../backend.ts';
import { loadModel } from '../model/load.ts';
import type { Model } from '../model/transformer.ts';
import type { Sae } from '../sae/index.ts';
import { loadSaeFor, mergeAdapterFlag, openSession, type Session } from '../session.ts';
import { type MODEL_SETTINGS, SESSION_SETTINGS } from '../settings/session.ts';
import { type CliArgs, resolveSettings, type Values } from '../settings/table.ts';
import { cliInput } from './settings.ts';
import { backendSpec, type GlobalArgs, weightChoice } from './options.ts';

export type SessionArgs = GlobalArgs & CliArgs<typeof SESSION_SETTINGS>;

/** The session settings of the flags, checked (before any work): paths as given, defaults filled in. */
export function sessionSettings(a: SessionArgs) {
  return resolveSettings(SESSION_SETTINGS, cliInput(SESSION_SETTINGS, a)).values;
}

/** The session of a command's flags (--model, --adapter, --merge-adapter, --dtype, --quantize, --sae, --layer, --workers, --force-workers, --backend). */
export async function openSessionFrom(a: SessionArgs): Promise<Session> {
  const s = sessionSettings(a);
  return openSession({
    model: s.model,
    adapter: s.adapter,
    mergeAdapter: s.mergeAdapter,
    weights: weightChoice(s),
    sae: s.sae,
    layer: s.layer ?? undefined,
    backend: backendSpec(a),
    workers: s.workers,
    forceWorkers: s.forceWorkers,
    gpuMemory: s.gpuMemory,
  });
}

/** Opens the session of the flags, runs `body`, and always closes it (workers stopped, backend freed). */
export async function withSessionFrom<T>(a: SessionArgs, body: (session: Session) => Promise<T>): Promise<T> {
  const session = await openSessionFrom(a);
  try {
    return await body(session);
  } finally {
    await session.close();
  }
}

/**
 * What generate and forward open in this thread: the backend of the global flags, the model with its
 * adapter (written merged first when asked) and the SAE when one is given. The caller closes the backend.
 */
export async function openModelFrom(
  a: GlobalArgs,
  v: Values<typeof MODEL_SETTINGS> & { sae?: string },
): Promise<{ backend: Backend; model: Model; sae: Sae | null }> {
  const backend = await openBackend(backendSpec(a));
  mergeAdapterFlag(v.model, v.adapter, v.mergeAdapter);
  const model = await loadModel(v.model, backend, { adapter: v.adapter, ...weightChoice(v) });
  return { backend, model, sae: v.sae ? loadSaeFor(v.sae, backend) : null };
}
