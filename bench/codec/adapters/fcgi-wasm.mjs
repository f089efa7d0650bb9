// Our codec, through its public streaming API exactly as an application would use it.
// Pairs are decoded lazily by PairList, so the handler reads every name and value: the strings must be
// made for the params figure to be comparable with peers that build them eagerly.
import { readFileSync } from 'node:fs';
import { Decoder } from '../../../dist/codec/index.js';

/** The adapter for a Decoder made with `options` (fcgi-wasm-reuse.mjs passes reuseSplitBuffer). */
export function adapter(name, options = {}) {
  return {
    name,
    version: JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')).version,
    createParser(tally) {
      const d = new Decoder(
        {
          record(type, requestId, content) {
            tally.records++;
            tally.content += content.length;
          },
          pairs(type, requestId, list) {
            const n = list.length;
            tally.pairs += n;
            for (let i = 0; i < n; i++) tally.chars += list.name(i).length + list.value(i).length;
          },
        },
        options,
      );
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
}

export default adapter('fcgi-wasm');
