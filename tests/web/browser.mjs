// Debian's chromium, headless, in a fresh profile: what the e2e tests and the screenshots run in.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// A persistent context in a new user-data-dir (removed by `close`); `options` go to the context
// (viewport, colorScheme, httpCredentials).
export async function open(options = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'sv-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ARGS,
    ...options,
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

// A browser whose contexts are separate profiles (each with its own connection pool, as separate
// users' browsers are; one profile allows only 6 connections per host, and each open page holds
// one for its event stream). Playwright gives it a fresh temporary user-data-dir.
export async function launch() {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ARGS });
}
