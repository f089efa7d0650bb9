// The Worker: runs a DecodeJob off the page's thread and answers record queries for the detail view.

import { DecodeJob, type Source } from './decode-job.js';

export type WorkerRequest = { kind: 'start'; source: Source } | { kind: 'detail'; token: number; key: number };

let job: DecodeJob | null = null;

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const m = event.data;
  if (m.kind === 'start') {
    job = new DecodeJob((e) => self.postMessage(e), { sliceBytes: 4 << 20, batchMs: 100 });
    void job.run(m.source);
  } else if (m.kind === 'detail') {
    self.postMessage({ kind: 'detail', token: m.token, detail: job?.detail(m.key) ?? null });
  }
};
