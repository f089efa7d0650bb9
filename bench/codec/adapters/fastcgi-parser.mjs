// npm fastcgi-parser 0.1.5: a byte-at-a-time state machine that copies all content into one 64 KiB body
// buffer. encoding 'binary' makes it report stream content as (buffer, start, end) through onBody instead
// of decoding it to a string; PARAMS arrive as an object {name: value} on the record.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parser: Parser } = require('fastcgi-parser');
const PARAMS = 4;

export default {
  name: 'fastcgi-parser',
  version: require('fastcgi-parser/package.json').version,
  createParser(tally) {
    const p = new Parser();
    p.encoding = 'binary';
    p.onBody = (buf, start, end) => {
      tally.content += end - start;
    };
    p.onRecord = (rec) => {
      tally.records++;
      if (rec.header.type === PARAMS && rec.body.params) {
        const params = rec.body.params;
        for (const name in params) {
          tally.pairs++;
          tally.chars += name.length + params[name].length;
        }
      }
    };
    return {
      push(chunk) {
        p.execute(chunk);
      },
    };
  },
};
