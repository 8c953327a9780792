/**
 * Firefox participants for browser tests, next to the Chromium ones of browser.ts: Debian's
 * Firefox ESR (`FIREFOX_PATH`, else `/usr/bin/firefox-esr`) driven by puppeteer-core over
 * WebDriver BiDi. One Firefox per test file; each participant is its own user context (own
 * storage), as each Chromium participant is its own browser context.
 *
 * ```ts
 * const firefox = await launchFirefox();
 * const fay = await joinWithFirefox(firefox, server.url, meeting.id, 'Fay', 800);
 * await assertEveryoneHearsTheOthers([fay, ann]);  // a Firefox and a Chromium member alike
 * await firefox.close();
 * ```
 *
 * Headless Firefox runs Web Audio and plays media only when it has a sound server: without
 * one its AudioContexts never start (the tone microphone is silent, the analysers hear
 * nothing). Each launch starts its own PulseAudio with a null sink under a private
 * `XDG_RUNTIME_DIR`, and `close()` stops it.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type BrowserContext, type Page } from 'puppeteer-core';
import { toneInitScript, type ScriptedPage } from './media';
import type { Member } from './room';
import { tempDir } from './server';
import { waitFor } from './wait';
import { stopProcess } from './stopProcess';

/** Debian's Firefox ESR (`apt-get install firefox-esr`). */
const SYSTEM_FIREFOX = '/usr/bin/firefox-esr';

/** The Firefox to run: `FIREFOX_PATH` when set, else Debian's. */
export function firefoxPath(): string {
  return process.env.FIREFOX_PATH || SYSTEM_FIREFOX;
}

/** Whether that Firefox and PulseAudio are installed. */
export function firefoxAvailable(): boolean {
  try {
    accessSync(firefoxPath(), constants.X_OK);
    return existsSync('/usr/bin/pulseaudio');
  } catch {
    return false;
  }
}

/**
 * The prefs that make Firefox a test participant: fake camera and microphone without a
 * prompt, media that plays without a gesture, and host candidates on loopback under their
 * real addresses (Firefox skips loopback and hides host addresses behind mDNS names).
 */
const PREFS: Record<string, unknown> = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.autoplay.default': 0,
  'media.autoplay.block-webaudio': false,
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
};

/** A PulseAudio of its own: a null sink, reachable only through `server`. */
interface SoundServer {
  /** What `PULSE_SERVER` must say for a client to use it. */
  server: string;
  stop(): Promise<void>;
}

/** Starts PulseAudio with a null sink under a private runtime directory; resolves once its socket is there. */
async function startSoundServer(): Promise<SoundServer> {
  const temp = tempDir('meetmesh-pulse-');
  const socket = join(temp.dir, 'native');
  const env = { PATH: process.env.PATH, HOME: temp.dir, XDG_RUNTIME_DIR: temp.dir };
  const child = spawn(
    '/usr/bin/pulseaudio',
    [
      '-n', // no default.pa: only the two modules below
      '--daemonize=no',
      '--exit-idle-time=-1',
      '--use-pid-file=no',
      '-L', 'module-null-sink sink_name=null',
      '-L', `module-native-protocol-unix auth-anonymous=1 socket=${socket}`,
      '--log-target=stderr',
      '--log-level=error',
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)));
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopProcess(child).then(() => temp.remove()));
  try {
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`pulseaudio exited (${child.exitCode}): ${stderr.trim()}`);
      return existsSync(socket);
    }, 10_000, 'PulseAudio to listen');
  } catch (err) {
    await stop();
    throw err;
  }
  return { server: `unix:${socket}`, stop };
}

/** One running Firefox and its sound server. */
export interface Firefox {
  browser: Browser;
  /** Closes the browser, then stops its sound server. Idempotent. */
  close(): Promise<void>;
}

let announced = false;

/** Launches Firefox headless with its own sound server; says once per process which Firefox runs. */
export async function launchFirefox(): Promise<Firefox> {
  if (!firefoxAvailable()) throw new Error(`no Firefox at ${firefoxPath()} or no /usr/bin/pulseaudio: apt-get install firefox-esr pulseaudio`);
  const sound = await startSoundServer();
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: firefoxPath(),
      headless: true,
      extraPrefsFirefox: PREFS,
      env: { ...process.env, PULSE_SERVER: sound.server },
    });
  } catch (err) {
    await sound.stop();
    throw err;
  }
  if (!announced) {
    announced = true;
    process.stderr.write(`browser: ${firefoxPath()} (${await browser.version()})\n`);
  }
  let closing: Promise<void> | undefined;
  return {
    browser,
    close() {
      closing ??= browser.close().catch(() => {}).finally(() => sound.stop());
      return closing;
    },
  };
}

/** A Firefox participant: a Member for the media checks of room.ts, plus its tab. */
export interface FirefoxPerson extends Member {
  context: BrowserContext;
  tab: Page;
}

/** A Puppeteer page as the probes of media.ts and room.ts run scripts in it. */
function scripted(tab: Page): ScriptedPage {
  return {
    // Puppeteer types the argument as it arrives in the page (handles flattened); ours are plain values.
    evaluate: <R, A>(fn: (arg: A) => R | Promise<R>, arg: A) => tab.evaluate(fn as (arg: unknown) => R | Promise<R>, arg) as Promise<R>,
  };
}

/**
 * Opens the meeting link in Firefox as `name` with a microphone playing `hz` and 320×240
 * video, and waits until joined (as `joinAs` does in Chromium; `extraInitScript` e.g. the
 * audio-gap probe).
 */
export async function joinWithFirefox(
  firefox: Firefox,
  baseUrl: string,
  meetingId: string,
  name: string,
  hz: number,
  query = '',
  extraInitScript = '',
): Promise<FirefoxPerson> {
  const context = await firefox.browser.createBrowserContext();
  const tab = await context.newPage();
  await tab.setViewport({ width: 960, height: 640 });
  if (process.env.DEBUG_BROWSER) {
    tab.on('console', (m) => console.log(`[firefox ${name}] ${m.type()}: ${m.text()}`));
    tab.on('pageerror', (e) => console.log(`[firefox ${name}] error: ${e instanceof Error ? e.message : String(e)}`));
  }
  await tab.evaluateOnNewDocument(toneInitScript(hz) + extraInitScript);
  await tab.goto(`${baseUrl}/m/${meetingId}?name=${encodeURIComponent(name)}&video=320x240${query}`);
  await tab.waitForSelector('[data-testid="leave-meeting"]', { timeout: 15_000 });
  return { name, hz, page: scripted(tab), context, tab };
}
