/**
 * Runs the tests (and the benchmarks) in a network namespace of their own, so that what
 * they send stays on loopback and inside that namespace, never on this machine's interface
 * addresses: browsers and native peers gather ICE candidates on every interface they see,
 * and two Chromium pages in P2P would otherwise pick the machine's own IPv6 address.
 *
 * The namespace has loopback and one veth pair whose both ends it holds (10.254.0.1 and
 * .2/30), with the default route through it: libwebrtc (the light participants' and
 * @roamhq/wrtc's) ignores loopback and Firefox gathers no candidate without a default route,
 * so they need an interface that is not loopback, and this one leads nowhere beyond the
 * namespace (a packet for any other address dies at the pair's far end). The test relay offers
 * 127.0.0.1 only (tests/helpers/server.ts); Chromium gathers loopback too
 * (`--allow-loopback-in-peer-connection`), Firefox by its pref.
 *
 * It takes root and iproute2's `ip` (CI has both). Without them, or with
 * `MEETMESH_PRIVATE_NETWORK=0`, the command runs as it is, on the machine's network, and says so.
 */
import { spawn, spawnSync } from 'node:child_process';

/** Set inside the namespace (to its name), so the command does not enter another. */
const INSIDE = 'MEETMESH_NETNS';
/** The veth pair's two ends inside the namespace; the default route goes to the far one. */
const NEAR = '10.254.0.1';
const FAR = '10.254.0.2';

function ip(...args: string[]): { ok: boolean; error: string } {
  const result = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: result.status === 0, error: (result.stderr || result.error?.message || '').trim() };
}

/** Why the command cannot enter a namespace here, or undefined when it can. */
function cannotEnter(): string | undefined {
  if (process.env.MEETMESH_PRIVATE_NETWORK === '0') return 'MEETMESH_PRIVATE_NETWORK=0';
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root';
  if (!ip('-V').ok) return "no iproute2 'ip'";
  return undefined;
}

/** Creates the namespace `name` with loopback and a veth pair up; returns an error text or undefined. */
function create(name: string): string | undefined {
  const steps: string[][] = [
    ['netns', 'add', name],
    ['-n', name, 'link', 'set', 'lo', 'up'],
    ['-n', name, 'link', 'add', 'mm0', 'type', 'veth', 'peer', 'name', 'mm1'],
    // IPv4 only on the pair: no link-local IPv6 candidates.
    ['netns', 'exec', name, 'sysctl', '-q', '-w', 'net.ipv6.conf.mm0.disable_ipv6=1', 'net.ipv6.conf.mm1.disable_ipv6=1'],
    ['-n', name, 'addr', 'add', `${NEAR}/30`, 'dev', 'mm0'],
    ['-n', name, 'addr', 'add', `${FAR}/30`, 'dev', 'mm1'],
    ['-n', name, 'link', 'set', 'mm0', 'up'],
    ['-n', name, 'link', 'set', 'mm1', 'up'],
    ['-n', name, 'route', 'add', 'default', 'via', FAR, 'dev', 'mm0'],
  ];
  for (const step of steps) {
    const result = ip(...step);
    if (!result.ok) {
      ip('netns', 'del', name);
      return `ip ${step.join(' ')}: ${result.error}`;
    }
  }
  return undefined;
}

/**
 * Runs this very command again inside a fresh namespace and exits with its exit code once it
 * is done; returns when the caller should go on itself (already inside one, or none can be
 * made here: then it says why, once, on stderr). `what` names the command in that line.
 */
export async function runInPrivateNetwork(what: string): Promise<void> {
  if (process.env[INSIDE]) return;
  const why = cannotEnter();
  const name = `meetmesh-${process.pid}`;
  const failure = why === undefined ? create(name) : undefined;
  if (why !== undefined || failure !== undefined) {
    console.error(`${what}: on this machine's own network (${why ?? failure}); as root with iproute2 they run in a network namespace of their own`);
    return;
  }
  const child = spawn('ip', ['netns', 'exec', name, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [INSIDE]: name },
  });
  // Ctrl-C reaches the child through the terminal; a TERM sent to this process is passed on.
  const forward = () => child.kill('SIGTERM');
  process.on('SIGTERM', forward);
  process.on('SIGINT', () => {});
  const code = await new Promise<number>((resolve) => child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0))));
  process.off('SIGTERM', forward);
  ip('netns', 'del', name);
  process.exit(code);
}
