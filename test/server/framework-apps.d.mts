import type { createServer, serve } from '../../src/server/index.js';

export type Framework = 'express' | 'koa' | 'fastify' | 'hono';
export declare const FRAMEWORKS: Framework[];
export declare function streamBody(): Uint8Array<ArrayBuffer>;
export interface RunningApp {
  port: number;
  close(): Promise<void>;
}
export declare function startApps(fcgi: { createServer: typeof createServer; serve: typeof serve }): Promise<Record<Framework, RunningApp>>;
