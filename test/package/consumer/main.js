// The page test/package bundles with Vite, with no configuration, from the installed package: the
// portable entries decode and encode records in the browser (smoke.mjs, copied beside this file).
import * as codec from 'fcgi-wasm/codec';
import * as streams from 'fcgi-wasm/streams';
import { runSmoke } from './smoke.mjs';

runSmoke({ ...codec, ...streams }).then(
  (result) => (window.smokeResult = { result }),
  (e) => (window.smokeResult = { error: String((e && e.stack) || e) }),
);
