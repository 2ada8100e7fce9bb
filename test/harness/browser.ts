/**
 * Headless Chromium from Debian (/usr/bin/chromium, installed by scripts/install-deps.sh) driven by
 * playwright-core: no browser download, a fresh profile per launch, nothing reaching the network
 * beyond what the page asks for. `close` also removes the profile.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.DOCKSTACK_CHROMIUM ?? '/usr/bin/chromium';

export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'ds-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 60_000,
    });
    return {
      context,
      close: async () => {
        await context.close().catch(() => undefined);
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}

/** Where tests leave files for people to look at (screenshots): $DOCKSTACK_ARTIFACTS or ./test-artifacts. */
export const ARTIFACTS = process.env.DOCKSTACK_ARTIFACTS ?? join(process.cwd(), 'test-artifacts');
