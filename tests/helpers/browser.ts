/**
 * One headless Chromium for a test file; each participant is its own browser context (own
 * storage, own fake devices), which is far cheaper on two cores than one browser per
 * participant.
 *
 * Which Chromium: `CHROMIUM_PATH` when it names an executable, else Debian's
 * `/usr/bin/chromium`, else the headless Chromium shipped in the `@sparticuz/chromium`
 * devDependency (unpacked to the temp directory on first use), so `npm install && npm test`
 * needs nothing else. `MEETMESH_BROWSER=sparticuz` forces the packaged one (to test that path
 * on a machine that has Chromium), `MEETMESH_BROWSER=system` the first two only.
 */
import { accessSync, constants } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`). */
const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/** A Chromium executable and where it was found. */
export interface ChromiumChoice {
  path: string;
  source: 'CHROMIUM_PATH' | 'system' | '@sparticuz/chromium';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The packaged headless Chromium, unpacked on first call (it is a few hundred MB unpacked). */
async function packagedChromium(): Promise<ChromiumChoice> {
  const { default: packaged } = await import('@sparticuz/chromium');
  return { path: await packaged.executablePath(), source: '@sparticuz/chromium' };
}

let choice: Promise<ChromiumChoice> | undefined;

/** Finds the Chromium to run (once per process), in the order the file comment gives. */
export function findChromium(): Promise<ChromiumChoice> {
  choice ??= (async (): Promise<ChromiumChoice> => {
    const wanted = process.env.MEETMESH_BROWSER ?? 'auto';
    if (wanted !== 'auto' && wanted !== 'system' && wanted !== 'sparticuz') {
      throw new Error(`MEETMESH_BROWSER must be auto, system or sparticuz, not "${wanted}"`);
    }
    if (wanted === 'sparticuz') return packagedChromium();
    const fromEnv = process.env.CHROMIUM_PATH;
    if (fromEnv) {
      if (isExecutable(fromEnv)) return { path: fromEnv, source: 'CHROMIUM_PATH' };
      process.stderr.write(`browser: CHROMIUM_PATH=${fromEnv} is not an executable; looking further\n`);
    }
    if (isExecutable(SYSTEM_CHROMIUM)) return { path: SYSTEM_CHROMIUM, source: 'system' };
    if (wanted === 'system') throw new Error(`no Chromium at CHROMIUM_PATH or ${SYSTEM_CHROMIUM} (MEETMESH_BROWSER=system)`);
    return packagedChromium();
  })();
  return choice;
}

let announced = false;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Host candidates on loopback too: the test relay offers 127.0.0.1 only (helpers/server.ts).
  '--allow-loopback-in-peer-connection',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  // getDisplayMedia picks the (fake) entire screen without a picker: screen-share tests.
  '--auto-select-desktop-capture-source=Entire screen',
  // Keep timers and media running in pages that are not in the foreground.
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
];

/** Launches the browser; `extraArgs` e.g. inject a fake camera file. Says once per process which browser runs. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  const { path, source } = await findChromium();
  const browser = await chromium.launch({ executablePath: path, args: [...CHROMIUM_ARGS, ...extraArgs], headless: true });
  if (!announced) {
    announced = true;
    process.stderr.write(`browser: ${path} (Chromium ${browser.version()}, from ${source})\n`);
  }
  return browser;
}

export interface Participant {
  context: BrowserContext;
  page: Page;
}

/** A fresh participant (context + page), at a small viewport unless told; console errors are echoed when DEBUG is set. */
export async function newParticipant(
  browser: Browser,
  options: { initScript?: string; ignoreHTTPSErrors?: boolean; viewport?: { width: number; height: number } } = {},
): Promise<Participant> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 960, height: 640 },
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
