// Starts a decoding run for the page: in a Worker (built inline, so it loads from file:// too) or, when
// no Worker can be made or it fails to start, on the page's thread in small slices with a yield between,
// so input stays answered either way.

import DecodeWorker from './decode-worker.ts?worker&inline';
import { DecodeJob, type Detail, type JobEvent, type Source } from './decode-job.js';
import type { WorkerRequest } from './decode-worker.js';

export interface Run {
  /** 'worker' or 'main-thread': where the decoding runs. */
  readonly mode: 'worker' | 'main-thread';
  /** One exchange in full with its records; null when the key is unknown. */
  detail(key: number): Promise<Detail | null>;
  stop(): void;
}

/** Yields to the event loop (a macrotask, so input and rendering get their turn). */
const yieldToPage = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

function onMainThread(source: Source, emit: (e: JobEvent) => void): Run {
  let stopped = false;
  const job = new DecodeJob((e) => !stopped && emit(e), { sliceBytes: 256 << 10, batchMs: 100, pause: yieldToPage });
  void job.run(source);
  return {
    mode: 'main-thread',
    detail: async (key) => job.detail(key),
    stop: () => void (stopped = true),
  };
}

export function startRun(source: Source, emit: (e: JobEvent) => void): Run {
  let worker: Worker;
  try {
    worker = new DecodeWorker({ name: 'fcgi-decode' });
  } catch {
    return onMainThread(source, emit);
  }
  const waiting = new Map<number, (d: Detail | null) => void>();
  let token = 0;
  let heard = false;
  let fallback: Run | null = null;
  const send = (m: WorkerRequest): void => worker.postMessage(m);
  worker.onmessage = (event: MessageEvent<JobEvent | { kind: 'detail'; token: number; detail: Detail | null }>) => {
    heard = true;
    const m = event.data;
    if (m.kind === 'detail') {
      waiting.get(m.token)?.(m.detail);
      waiting.delete(m.token);
    } else emit(m);
  };
  worker.onerror = (event) => {
    event.preventDefault();
    worker.terminate();
    // a worker that never started (blocked by a policy, say) is replaced by the main-thread run
    if (!heard && !fallback) fallback = onMainThread(source, emit);
    else emit({ kind: 'error', message: `the decoding worker failed: ${event.message}` });
  };
  send({ kind: 'start', source });
  return {
    get mode() {
      return fallback ? fallback.mode : 'worker';
    },
    detail(key) {
      if (fallback) return fallback.detail(key);
      return new Promise((resolve) => {
        waiting.set(++token, resolve);
        send({ kind: 'detail', token, key });
      });
    },
    stop() {
      fallback?.stop();
      worker.terminate();
      for (const resolve of waiting.values()) resolve(null);
    },
  };
}
