/**
 * What a Chromium test file sets up around its tests: one server and one browser for the
 * whole file, and the people a test opened closed when it ends, passed or failed.
 */
import type { Test } from 'uvu';
import type { Browser } from 'playwright-core';
import { launchBrowser, type Participant } from './browser';
import type { TestServer } from './server';

/** A browser test file's server, its Chromium and the people its current test opened. */
export interface BrowserSuite {
  /** The server under test, started before the first test. */
  readonly server: TestServer;
  /** The file's Chromium, launched once the server is up. */
  readonly browser: Browser;
  /** Push whoever a test opens: their contexts are closed after the test. */
  readonly people: Participant[];
}

/** The value a `before` hook set, or a clear error when read before it ran. */
function started<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the suite's ${what} is not up yet: use it inside a test or a later hook`);
  return value;
}

/**
 * Registers the file's hooks on `test`: before the first test, `start` the server and launch
 * Chromium; after each test, close the contexts of `people`; after the last, close Chromium
 * and dispose of the server. A file's own hooks registered afterwards run after these.
 */
export function browserSuite(test: Test, start: () => Promise<TestServer>): BrowserSuite {
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  const people: Participant[] = [];

  test.before(async () => {
    server = await start();
    browser = await launchBrowser();
  });
  test.after.each(async () => {
    // A context may be gone already (its page crashed): closing the rest still matters.
    for (const p of people.splice(0)) await p.context.close().catch(() => {});
  });
  test.after(async () => {
    // Each step even if one before it failed: a server left running would hold the process.
    try {
      await browser?.close();
    } finally {
      await server?.dispose();
    }
  });

  return {
    get server() {
      return started(server, 'server');
    },
    get browser() {
      return started(browser, 'browser');
    },
    people,
  };
}
