// The client side: talk to php-fpm or any FastCGI app.
export { Client } from './client.js';
export type { ClientOptions, RequestOptions, FcgiReply, CollectedReply, FetchOptions, Body, ReplyFlow, ReplySink } from './client.js';
export type { CgiHead } from '../protocol/cgi-response.js';
export { cgiParamsFor, safePath, splitScript } from './cgi-params.js';
export type { CgiParamsOptions } from './cgi-params.js';
export { createGateway, statusForError } from './gateway.js';
export type { GatewayOptions, GatewayHandler } from './gateway.js';
