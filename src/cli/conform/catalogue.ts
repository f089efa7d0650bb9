// The conformance catalogue: every probe `fcgi conform` runs against an app, in order. Each cites the
// sections of the FastCGI 1.0 specification it checks and the conformance vectors
// (test/fixtures/conformance-vectors.json, from ../shared/conformance) that record the same bytes or
// the same peer behaviour. A divergence found in a new peer becomes a new probe here.

import { CONNECTION_PROBES } from './probes-connection.js';
import { FRAMING_PROBES } from './probes-framing.js';
import { MANAGEMENT_PROBES } from './probes-management.js';
import { REQUEST_PROBES } from './probes-requests.js';
import type { Probe } from './probe.js';

/** `responder` comes first: its answer is what the framing probes compare with. */
export const CATALOGUE: readonly Probe[] = [...REQUEST_PROBES, ...MANAGEMENT_PROBES, ...FRAMING_PROBES, ...CONNECTION_PROBES];
