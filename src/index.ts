// fcgi-wasm: FastCGI for every JavaScript runtime. The codec and the stream API today; the application
// side, the client side and the process manager build on them (see DESIGN.md).
export * from './codec/index.js';
export * from './streams/index.js';
export * from './server/index.js';
export * from './client/index.js';
