// The physical limit: Buffer#copy of every chunk into one reused, cache-hot buffer. No parsing, so it only
// has a bytes/s figure.
export default {
  name: 'memcpy',
  version: process.version,
  noRecords: true,
  createParser() {
    const dst = Buffer.allocUnsafe(65536);
    return {
      push(chunk) {
        chunk.copy(dst, 0, 0, chunk.length);
      },
    };
  },
};
