/**
 * One headless Chromium (Debian's /usr/bin/chromium) for a test file; each participant is
 * its own browser context (own storage, own fake devices), which is far cheaper on two
 * cores than one browser per participant.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  // Keep timers and media running in pages that are not in the foreground.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Launches the browser; `extraArgs` e.g. inject a fake camera file. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true });
}

export interface Participant {
  context: BrowserContext;
  page: Page;
}

/** A fresh participant (context + page) at a small viewport; console errors are echoed when DEBUG is set. */
export async function newParticipant(browser: Browser, options: { initScript?: string; ignoreHTTPSErrors?: boolean } = {}): Promise<Participant> {
  const context = await browser.newContext({
    viewport: { width: 960, height: 640 },
    ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
    permissions: ['camera', 'microphone'],
  });
  if (options.initScript) await context.addInitScript(options.initScript);
  const page = await context.newPage();
  if (process.env.DEBUG_BROWSER) {
    page.on('console', (m) => console.log(`[page] ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => console.log(`[page] error: ${e.message}`));
  }
  return { context, page };
}
