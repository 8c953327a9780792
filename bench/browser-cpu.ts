/**
 * What the browsers of a relay meeting spend, by Chromium process type (renderers: the pages'
 * encoders, decoders and audio; the GPU process: compositing, in software here), with the
 * camera layers nobody watches turned off at their publishers (the default,
 * relay/allocation/PublisherLayers.ts) and sent anyway (`?dynacast=0`), side by side in one
 * run. Five people at 640×480 (two layers each) in one Chromium, two of them with a tone on
 * the microphone: with more than four tiles only the featured speaker's is large, so three
 * of the five cameras need no 640×480 layer (the speaker's own page features someone else).
 * Five, not six: six pages keep two cores busy (97%) either way, and what one part of them
 * no longer spends, the others take (the GPU process composites more frames), so their total
 * does not show it.
 *
 * CPU is read from /proc per process over a window that starts once the layers nobody
 * watches have gone off. Writes bench-results/browser-cpu.{json,md}.
 * Run: npx tsx bench/browser-cpu.ts [--people 5] [--seconds 10] [--runs 2]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { launchBrowser, newParticipant, type Participant } from '../tests/helpers/browser';
import { toneInitScript } from '../tests/helpers/media';
import { badgeSays, createMeeting, meetingDetail } from '../tests/helpers/room';
import { startServer, type TestServer } from '../tests/helpers/server';
import { waitFor } from '../tests/helpers/wait';
import { UNWATCHED_PAUSE_MS } from '../relay/allocation/PublisherLayers';
import { machineJiffies, procCpuSeconds } from './harness/cpu';
import { fmt, round } from './harness/figures';
import { runContext, writeResults } from './harness/results';
import { codeState, ensureClientBuilt, numberArg, sleep } from './harness/run';
import { runInPrivateNetwork } from '../scripts/privateNetwork';

// Its traffic stays on loopback, in a network namespace of its own (scripts/privateNetwork.ts).
await runInPrivateNetwork('bench/browser-cpu');

type Variant = 'unwatched layers off' | 'every layer sent';

interface Measured {
  variant: Variant;
  /** % of one core per Chromium process type, summed over its processes. */
  byType: Record<string, number>;
  chromiumPercent: number;
  machineBusyPercent: number;
  unwatchedLayers: number;
}

/** CPU seconds of a process, 0 once it is gone. */
function cpuSeconds(pid: number): number {
  try {
    return procCpuSeconds(pid);
  } catch {
    return 0;
  }
}

/** A Chromium process's type (`renderer`, `gpu-process`, a utility's service), or undefined for other processes. */
function chromiumType(pid: number): string | undefined {
  try {
    // Chromium rewrites its children's command lines into one string: split on spaces too.
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
    if (!args[0]?.includes('chromium')) return undefined;
    const type = args.find((a) => a.startsWith('--type='))?.slice('--type='.length) ?? 'browser';
    const service = args.find((a) => a.startsWith('--utility-sub-type='))?.slice('--utility-sub-type='.length);
    return service ? `utility ${service.replace(/\.mojom\./, ' ').split(' ')[0]}` : type;
  } catch {
    return undefined;
  }
}

async function measure(server: TestServer, variant: Variant, people: number, seconds: number): Promise<Measured> {
  const browser = await launchBrowser();
  const pages: Participant[] = [];
  try {
    const meeting = await createMeeting(server.url, `Browser CPU ${variant}`, 'relay');
    const query = variant === 'every layer sent' ? '&dynacast=0' : '';
    for (let i = 0; i < people; i++) {
      const participant = await newParticipant(browser, { initScript: toneInitScript(i === 0 ? 900 : i === 1 ? 1400 : 0) });
      pages.push(participant);
      await participant.page.goto(`${server.url}/m/${meeting.id}?name=P${i + 1}&video=640x480${query}`);
    }
    const first = pages[0]!;
    await badgeSays({ name: 'P1', page: first.page, context: first.context, hz: 0 }, 'relay', 30_000);
    // Cameras ramp up, the tiles settle, and what nobody watches goes off (the relay counts it either way).
    await sleep(3000 + UNWATCHED_PAUSE_MS);
    await waitFor(async () => ((await meetingDetail(server.url, meeting.id)).relay.unwatchedLayers ?? 0) > 0, 10_000, 'a layer nobody watches').catch(() => {});
    const pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => chromiumType(pid) !== undefined);
    const before = new Map(pids.map((pid) => [pid, cpuSeconds(pid)]));
    const machineBefore = machineJiffies();
    const startedAt = performance.now();
    await sleep(seconds * 1000);
    const elapsed = (performance.now() - startedAt) / 1000;
    const machineAfter = machineJiffies();
    const byType: Record<string, number> = {};
    for (const pid of pids) {
      const type = chromiumType(pid);
      if (type === undefined) continue;
      const percent = ((cpuSeconds(pid) - before.get(pid)!) / elapsed) * 100;
      byType[type] = round((byType[type] ?? 0) + percent);
    }
    const unwatchedLayers = (await meetingDetail(server.url, meeting.id)).relay.unwatchedLayers ?? 0;
    const chromiumPercent = round(Object.values(byType).reduce((a, b) => a + b, 0));
    const machineBusyPercent = round(((machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total)) * 100);
    console.log(`${variant}: Chromium ${fmt(chromiumPercent)} % of a core (renderers ${fmt(byType['renderer'])}, GPU process ${fmt(byType['gpu-process'])}), machine ${fmt(machineBusyPercent)} % busy, ${unwatchedLayers} layers nobody watches`);
    return { variant, byType, chromiumPercent, machineBusyPercent, unwatchedLayers };
  } finally {
    await browser.close();
  }
}

ensureClientBuilt();
const people = numberArg(process.argv, 'people') ?? 5;
const seconds = numberArg(process.argv, 'seconds') ?? 10;
const runs = numberArg(process.argv, 'runs') ?? 2;
const server = await startServer();
const results: Measured[] = [];
try {
  // Alternating, so that a machine getting busier over the run weighs on both alike.
  for (let i = 0; i < runs; i++) {
    results.push(await measure(server, 'unwatched layers off', people, seconds));
    results.push(await measure(server, 'every layer sent', people, seconds));
  }
} finally {
  await server.dispose();
}
const mean = (variant: Variant, pick: (m: Measured) => number | undefined) => {
  const values = results.filter((r) => r.variant === variant).map(pick).filter((v): v is number => v !== undefined);
  return values.length > 0 ? round(values.reduce((a, b) => a + b, 0) / values.length) : undefined;
};
const variants: Variant[] = ['unwatched layers off', 'every layer sent'];
const rows = variants.map((v) => `| ${v} | ${fmt(mean(v, (m) => m.chromiumPercent))} | ${fmt(mean(v, (m) => m.byType['renderer']))} | ${fmt(mean(v, (m) => m.byType['gpu-process']))} | ${fmt(mean(v, (m) => m.machineBusyPercent))} % | ${results.filter((r) => r.variant === v).map((r) => r.unwatchedLayers).join(', ')} |`);
const saved = (mean('every layer sent', (m) => m.chromiumPercent) ?? 0) - (mean('unwatched layers off', (m) => m.chromiumPercent) ?? 0);
const table = [
  '| camera layers | Chromium, % of a core | renderers | GPU process | machine busy | layers nobody watches (relay) |',
  '| --- | ---: | ---: | ---: | ---: | --- |',
  ...rows,
].join('\n');
console.log(`\n${table}\n\nturning off the layers nobody watches saved ${fmt(saved)} % of a core (mean of ${runs} runs each)`);
writeResults(
  'browser-cpu',
  { name: 'browser-cpu', ...runContext(), code: codeState(), people, seconds, capture: '640x480', runs: results, savedPercentOfACore: round(saved) },
  `# What the browsers of a relay meeting of ${people} spend\n\nOne Chromium, ${people} pages at 640×480 on the relay, CPU from /proc over ${seconds} s per run once the layers nobody watches went off; mean of ${runs} alternating runs each.\n\n${table}\n\nTurning off the layers nobody watches saved ${fmt(saved)} % of a core.\n`,
  false,
);
