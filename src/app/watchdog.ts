import { Worker } from 'node:worker_threads';

/**
 * Kills this process `ms` from now, whatever its main thread is doing. A timer on the main thread cannot promise
 * that: it never fires while the main thread is stuck in synchronous code (issue 18: an exit handler looping in
 * sonic-boom's flushSync). A worker thread has its own event loop, so its timer fires. SIGKILL, because
 * process.exit() in a worker ends only the worker.
 */
export function armForcedExit(ms: number): void {
  const watchdog = new Worker(
    `const { workerData } = require('node:worker_threads');
     setTimeout(() => process.kill(process.pid, 'SIGKILL'), workerData.ms);`,
    { eval: true, workerData: { ms } },
  );
  // A shutdown that finishes in time exits without waiting for the watchdog.
  watchdog.unref();
}
