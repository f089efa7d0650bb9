// Debian's /usr/bin/chromium driven by playwright-core (never a downloaded browser), with no network
// chatter of its own. Plain JavaScript so the scripts and benchmarks (scripts/, bench/) launch it the
// same way as the tests (test/browser.ts).
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export function launchChromium() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
}
