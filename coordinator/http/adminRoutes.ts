/**
 * The operator dashboard (`/admin`), only when `ADMIN_TOKEN` is set: the page (the bundled
 * `client/admin` app), its login (the token in a POST body, answered with a session cookie),
 * and `GET /admin/api/state`, the node's meetings, workers, deployment and charts'
 * samples, for the page (which asks every few seconds) or a script with a Bearer header.
 */
import type { FastifyInstance } from 'fastify';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { AdminLoginBody, AdminState, type AdminNode } from '../../protocol/admin';
import { CodedError } from '../../protocol/errors';
import type { NodeInfo } from '../cluster/RedisDirectory';
import { KeyedRateLimiter } from '../limits/KeyedRateLimiter';
import type { NodeSampler } from '../admin/NodeSampler';
import { AdminAuth, SESSION_COOKIE, SESSION_MS } from './adminAuth';

export interface AdminDeps {
  token: string;
  sampler: NodeSampler;
  /** Built client (where `admin.html` is). */
  clientDir: string;
  /** Served over HTTPS: the cookie is `Secure`. */
  secure: boolean;
  nodeId: string;
  /** Several nodes: every live one (from Redis). */
  nodes?: () => Promise<NodeInfo[]>;
}

/** Login attempts per client address: a burst of 10, then one every 6 s. */
const LOGINS_BURST = 10;
const LOGINS_PER_SECOND = 1 / 6;

/** Registers the dashboard's page and API. */
export async function adminRoutes(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  const auth = new AdminAuth(deps.token);
  const logins = new KeyedRateLimiter(LOGINS_BURST, LOGINS_PER_SECOND);
  const cookie = (value: string, maxAgeS: number) =>
    `${SESSION_COOKIE}=${value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${deps.secure ? '; Secure' : ''}`;

  app.get('/admin', (_request, reply) => {
    const page = join(deps.clientDir, 'admin.html');
    if (!existsSync(page)) throw new CodedError('ROUTE_NOT_FOUND', 'The dashboard is not built: run `npm run build`.');
    // The page holds no data (the API does); never cached, so a new build is picked up.
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(createReadStream(page));
  });

  app.post('/admin/api/login', { schema: { body: AdminLoginBody } }, async (request, reply) => {
    const limited = logins.take(request.ip);
    if (!limited.ok) {
      reply.header('retry-after', String(Math.ceil(limited.retryAfterMs / 1000)));
      throw new CodedError('RATE_LIMITED', 'Too many login attempts; wait a little.');
    }
    const { token } = request.body as AdminLoginBody;
    if (!auth.matches(token)) {
      request.log.warn({ ip: request.ip }, 'admin login refused');
      throw new CodedError('ADMIN_TOKEN_REQUIRED', 'That is not the admin token.');
    }
    request.log.info({ ip: request.ip }, 'admin logged in');
    return reply.header('set-cookie', cookie(auth.newSession(), SESSION_MS / 1000)).status(204).send();
  });

  app.post('/admin/api/logout', async (_request, reply) => reply.header('set-cookie', cookie('', 0)).status(204).send());

  app.get('/admin/api/state', {
    schema: { querystring: Type.Object({ since: Type.Optional(Type.String({ pattern: '^\\d{1,16}$' })) }, { additionalProperties: false }), response: { 200: AdminState } },
  }, async (request, reply) => {
    if (!auth.allows(request.headers)) throw new CodedError('ADMIN_TOKEN_REQUIRED');
    const since = Number((request.query as { since?: string }).since ?? 0);
    const { sampler } = deps;
    reply.header('cache-control', 'no-store');
    return {
      node: { id: deps.nodeId, startedAt: sampler.startedAt, sampleMs: sampler.options.sampleMs, windowMs: sampler.options.windowMs },
      meetings: sampler.meetings(),
      workers: sampler.workers(),
      coordinator: sampler.coordinator(),
      nodes: deps.nodes ? await deploymentNodes(deps.nodes, deps.nodeId, request.log) : [],
      samples: sampler.samplesSince(since),
    };
  });
}

/** The deployment's live nodes, this one first; Redis unreachable: none (the rest of the page still works). */
async function deploymentNodes(nodes: () => Promise<NodeInfo[]>, selfId: string, log: FastifyInstance['log']): Promise<AdminNode[]> {
  let live: NodeInfo[];
  try {
    live = await nodes();
  } catch (err) {
    log.warn({ err }, 'admin: the deployment\'s nodes could not be read');
    return [];
  }
  return live
    .map((n) => ({
      id: n.id,
      url: n.url,
      dashboardUrl: `${n.url.replace(/\/$/, '')}/admin`,
      meetings: n.meetings,
      participants: n.participants,
      relayLoad: n.relayLoad,
      self: n.id === selfId,
    }))
    .sort((a, b) => Number(b.self) - Number(a.self) || a.id.localeCompare(b.id));
}
