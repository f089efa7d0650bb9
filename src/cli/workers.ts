// `fcgi proxy --workers N`: the gateway in N processes sharing one listening port (node:cluster), as
// nginx's worker_processes. One Node process runs JavaScript on one core; the primary only forks,
// restarts a worker that died, and stops them all. Each worker gets its part of the backend connections.

import cluster from 'node:cluster';

/** In a worker: the settings the primary handed down (backends it started, connections per worker). */
export interface WorkerSettings {
  backends: string[];
  maxConnections: number;
}

const ENV = 'FCGI_PROXY_WORKER';

export function workerSettings(): WorkerSettings | null {
  return cluster.isWorker && process.env[ENV] ? (JSON.parse(process.env[ENV]) as WorkerSettings) : null;
}

/**
 * Forks `count` workers running this same command line; resolves once each listens. A worker that dies
 * while running is replaced after a second. The returned function stops them all.
 */
export async function forkWorkers(count: number, settings: WorkerSettings, log: (m: string) => void): Promise<() => Promise<void>> {
  let stopping = false;
  const fork = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork({ [ENV]: JSON.stringify(settings) });
      worker.once('listening', () => resolve());
      worker.once('exit', (code, signal) => {
        if (stopping) return;
        reject(new Error(`a gateway worker exited before listening (${signal ?? code})`));
        log(`fcgi proxy: worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another`);
        setTimeout(() => void fork().catch((e: Error) => log(`fcgi proxy: ${e.message}`)), 1000).unref();
      });
    });
  await Promise.all(Array.from({ length: count }, fork));
  return async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            w.once('exit', () => resolve());
            w.process.kill('SIGTERM');
          }),
      ),
    );
  };
}
