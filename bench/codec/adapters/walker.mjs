// A plain hand-written JS record walker: the "what JS alone does" column (same idea as the peers'
// anchor-js-walk, written here from scratch). A record lying inside one chunk is handed on as a view of
// the chunk; a record straddling chunks is gathered into ONE reused buffer of the largest record size,
// so nothing is allocated per record. Pairs are decoded eagerly with Buffer#latin1Slice.
// Like our Decoder it hands every record to a handler as (type, requestId, content view): a walker that
// only summed header lengths would skip the per-record view and call that any real consumer pays.
const PARAMS = 4;
const MAX_RECORD = 8 + 65535 + 255;

function readPairs(b, onPair) {
  let i = 0;
  const end = b.length;
  while (i < end) {
    let n = b[i++];
    if (n > 127) { n = ((n & 127) << 24) | (b[i] << 16) | (b[i + 1] << 8) | b[i + 2]; i += 3; }
    let v = b[i++];
    if (v > 127) { v = ((v & 127) << 24) | (b[i] << 16) | (b[i + 1] << 8) | b[i + 2]; i += 3; }
    onPair(b.latin1Slice(i, i + n), b.latin1Slice(i + n, i + n + v));
    i += n + v;
  }
}

export default {
  name: 'walker',
  version: process.version,
  createParser(tally) {
    const handler = {
      record(type, requestId, content) {
        tally.records++;
        tally.content += content.length;
      },
      pair(name, value) {
        tally.pairs++;
        tally.chars += name.length + value.length;
      },
    };
    const onPair = (name, value) => handler.pair(name, value);
    const carry = Buffer.allocUnsafe(MAX_RECORD);
    let have = 0; // bytes of a straddling record (header first) gathered in carry
    let need = 0; // its full size once its header is complete, else 0

    function take(buf, at) {
      const type = buf[at + 1];
      const content = buf.subarray(at + 8, at + 8 + ((buf[at + 4] << 8) | buf[at + 5]));
      handler.record(type, (buf[at + 2] << 8) | buf[at + 3], content);
      if (type === PARAMS) readPairs(content, onPair);
    }

    return {
      push(chunk) {
        const len = chunk.length;
        let p = 0;
        if (have > 0) {
          if (have < 8) { // finish the header first: it says how much more to gather
            const n = Math.min(8 - have, len);
            chunk.copy(carry, have, 0, n);
            have += n;
            p = n;
            if (have < 8) return;
            need = 8 + ((carry[4] << 8) | carry[5]) + carry[6];
          }
          const n = Math.min(need - have, len - p);
          chunk.copy(carry, have, p, p + n);
          have += n;
          p += n;
          if (have < need) return;
          take(carry, 0);
          have = need = 0;
        }
        while (len - p >= 8) {
          const size = 8 + ((chunk[p + 4] << 8) | chunk[p + 5]) + chunk[p + 6];
          if (len - p < size) break;
          take(chunk, p);
          p += size;
        }
        if (p < len) { // a record starts here and ends in a later chunk
          chunk.copy(carry, 0, p, len);
          have = len - p;
          need = have >= 8 ? 8 + ((carry[4] << 8) | carry[5]) + carry[6] : 0;
        }
      },
    };
  },
};
