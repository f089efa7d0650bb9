// The application side: serve FastCGI from any JavaScript app.
export { FcgiServer, createServer, serve, normalizeAddress } from './server.js';
export type { ServerOptions, ServeOptions, ListenTarget, ListenHandle } from './server.js';
export type { FcgiIncomingMessage, FcgiServerResponse, FcgiRequestContext, NodeHandler } from './node-http.js';
export type { FetchHandler, FetchInfo } from './fetch.js';
