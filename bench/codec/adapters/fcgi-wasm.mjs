// Our codec, through its public streaming API exactly as the server and the client use it: record
// content as fragments (views of the chunk; a record split across chunks is never joined), pairs
// decoded lazily by PairList, so the handler reads every name and value: the strings must be made for
// the params figure to be comparable with peers that build them eagerly.
import { readFileSync } from 'node:fs';
import { Decoder, Fragment } from '../../../dist/codec/index.js';

export default {
  name: 'fcgi-wasm',
  version: JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version,
  createParser(tally) {
    const d = new Decoder({
      fragment(type, requestId, bytes, flags) {
        tally.content += bytes.length;
        if ((flags & Fragment.END) !== 0) tally.records++;
      },
      pairs(type, requestId, list) {
        const n = list.length;
        tally.pairs += n;
        for (let i = 0; i < n; i++) tally.chars += list.name(i).length + list.value(i).length;
      },
    });
    return {
      push(chunk) {
        d.push(chunk);
      },
      end() {
        d.end(); // a pass is a whole stream: also checks that it did not end inside a record
      },
    };
  },
};
