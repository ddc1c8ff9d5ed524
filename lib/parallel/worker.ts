// A worker thread holding its own model (and SAE) on its own tfjs backend; answers tasks one at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { openBackend } from '../backend.ts';
import { loadModel } from '../model/load.ts';
import { loadSae, saeComputeOptions } from '../sae/index.ts';
import type { ExecutorSpec } from './pool.ts';
import { type Loaded, type OnRow, runTask, type Task } from './tasks.ts';

const spec = workerData.spec as ExecutorSpec;
let loaded: Loaded;
try {
  const backend = await openBackend(spec.backend, () => {});
  loaded = {
    model: await loadModel(spec.model, backend, { adapter: spec.adapter, ...spec.weights }),
    sae: spec.sae ? loadSae(spec.sae, { hash: false, ...saeComputeOptions(backend) }) : null,
  };
  parentPort!.postMessage({ ready: true });
} catch (err) {
  parentPort!.postMessage({ ready: false, error: (err as Error).message, input: (err as Error).name === 'InputError' });
}

parentPort!.on('message', async (msg: { id: number; task: Task }) => {
  try {
    const onRow: OnRow = (index, row) => parentPort!.postMessage({ id: msg.id, row: { index, ...row } });
    parentPort!.postMessage({ id: msg.id, result: await runTask(loaded, msg.task, onRow) });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: (err as Error).message, input: (err as Error).name === 'InputError' });
  }
});
