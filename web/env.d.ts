// Vite's inline-worker import (web/src/decoding.ts): a Worker class built from the bundled worker source.
declare module '*?worker&inline' {
  const WorkerClass: { new (options?: { name?: string }): Worker };
  export default WorkerClass;
}
// Stylesheets imported for their side effect (vite bundles them).
declare module '*.css';
