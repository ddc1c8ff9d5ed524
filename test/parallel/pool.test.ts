// lib/parallel/pool.ts when a worker thread dies after startup (an uncaught error, or exit): the task it
// ran is rejected naming the worker and the task, queued and later tasks are rejected too, the other
// workers' tasks finish, and close() still returns. Uses a stand-in worker (test/fixtures/parallel).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { BroadcastChannel } from 'node:worker_threads';
import { workerPool } from '../../lib/parallel/pool.ts';
import type { EncodeTask } from '../../lib/parallel/tasks.ts';
import { HELD_LAYER, RELEASE_CHANNEL } from '../fixtures/parallel/crash-worker.ts';

const ENTRY = pathToFileURL(join(import.meta.dirname, '..', 'fixtures', 'parallel', 'crash-worker.ts')).href;
const SPEC = { model: 'stand-in', sae: null, backend: { choice: 'cpu' as const } };
const task = (layer: number): EncodeTask => ({ kind: 'encode', sequences: [[0]], hook: String(layer) });
/** Lets the stand-in workers answer their held tasks, and waits for `held`. */
async function released<T>(held: Promise<T>): Promise<T> {
  const channel = new BroadcastChannel(RELEASE_CHANNEL);
  try {
    channel.postMessage('go');
    return await held;
  } finally {
    channel.close();
  }
}

for (const [layer, how] of [
  [
    666,
    /worker thread \d of 2 failed \(boom in the worker\) while running its encode task; the worker pool is stopped/,
  ],
  [667, /worker thread \d of 2 exited \(code 7\) while running its encode task/],
] as const) {
  test(`a worker that ${layer === 666 ? 'throws' : 'exits'} mid-task rejects its task and the queue, not the other worker's task`, async () => {
    const pool = await workerPool(SPEC, 2, { entry: ENTRY });
    try {
      const ok = await pool.run(task(0));
      assert.equal(ok.latent.length, 0);
      const held = pool.run(task(HELD_LAYER)); // on one worker, answered only after the crash
      const crash = pool.run(task(layer)); // on the other
      const queued = pool.run(task(0));
      await assert.rejects(crash, how);
      await assert.rejects(queued, /the worker pool is stopped/);
      assert.equal((await released(held)).latent.length, 0);
      await assert.rejects(pool.run(task(0)), /the worker pool is stopped/);
    } finally {
      await pool.close();
    }
  });
}

test('a worker that dies while loading fails the start with an error', async () => {
  const exiting = `data:text/javascript,process.exit(3)`;
  await assert.rejects(
    workerPool(SPEC, 1, { entry: exiting }),
    /worker thread exited \(code 3\) while loading stand-in/,
  );
});
