import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';

export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM);
}

/** Headless Debian Chromium for page tests; skips the calling test when it is not installed. */
export async function launchChromium(context: Mocha.Context): Promise<Browser> {
  if (!chromiumInstalled()) {
    console.log(`      skipped: Chromium not found at ${CHROMIUM} ("npm run setup" installs it)`);
    context.skip();
  }
  const { chromium } = await import('playwright-core');
  // Without the background-networking flags Chromium keeps trying to reach Google's hosts.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}
