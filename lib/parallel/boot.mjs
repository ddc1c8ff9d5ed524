// Worker threads start here: register tsx so the TypeScript worker module loads, then run it.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
