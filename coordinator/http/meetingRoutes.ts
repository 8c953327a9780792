/** The meetings REST API (`/api`), as in the observable contract of DESIGN.md. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { CodedError } from '../../protocol/errors';
import {
  CreateMeetingBody,
  CreatedMeeting,
  MeetingDetail,
  MeetingEventRecord,
  MeetingIdParams,
  MeetingSummary,
  type TopologyPreference,
} from '../../protocol/rest';
import type { MeetingRegistry } from '../meetings/MeetingRegistry';
import type { EventStore } from '../records/EventStore';
import type { RelayCounterSource } from '../media/RelayCounterSource';
import type { AddressLimits } from '../limits/AddressLimits';
import { bearerToken, withholdEventNames, withholdNames } from './privacy';
import type { ClusterNode } from '../cluster/ClusterNode';
import { secretMatches } from '../ids';
import { startingPath } from '../topology/TopologyController';

export interface MeetingRouteDeps {
  registry: MeetingRegistry;
  store: EventStore;
  relayCounters: RelayCounterSource;
  /** Creation rate per client address; unlimited when unset. */
  limits?: AddressLimits;
  /** Base of shareable links; derived from the request when not configured. */
  publicUrl?: string;
  /** Several nodes: meetings of the whole deployment, through Redis. */
  cluster?: ClusterNode;
}

/** Registers the meeting routes. */
export async function meetingRoutes(app: FastifyInstance, deps: MeetingRouteDeps): Promise<void> {
  const { registry, store } = deps;

  /**
   * The detail reply of a meeting, live here, elsewhere, or closed. Unlisted: a stranger
   * holding the link learns how many are there, not who; its host learns who.
   */
  const detailOf = (
    id: string,
    m: Pick<MeetingDetail, 'title' | 'state' | 'mode' | 'topology' | 'createdAt' | 'participants' | 'listed'>,
    isHost: boolean,
  ): MeetingDetail => ({
    id,
    title: m.title,
    state: m.state,
    mode: m.mode,
    topology: m.topology,
    createdAt: m.createdAt,
    participants: m.listed || isHost ? m.participants : withholdNames(m.participants),
    listed: m.listed,
    relay: deps.relayCounters.countersFor(id),
  });

  const createHere = (title: string, topology: TopologyPreference, listed: boolean | undefined): { id: string; creatorToken: string } => {
    const { meeting, creatorToken } = registry.create(title, topology, listed === undefined ? {} : { listed });
    return { id: meeting.id, creatorToken };
  };

  app.get('/api/health', async () => ({ ok: true }));

  app.get('/api/meetings', { schema: { response: { 200: Type.Array(MeetingSummary) } } }, async () =>
    deps.cluster ? deps.cluster.listJoinable() : registry.listJoinable(),
  );

  app.post<{ Body: CreateMeetingBody }>(
    '/api/meetings',
    {
      schema: { body: CreateMeetingBody, response: { 201: CreatedMeeting } },
      // Counted before the body is even parsed: invalid attempts cost the same.
      onRequest: async (request) => deps.limits?.admitCreate(request.ip),
    },
    async (request, reply) => {
      const title = request.body.title.trim();
      if (title.length === 0) throw new CodedError('BAD_REQUEST', 'A meeting needs a title.');
      const topology = request.body.topology ?? 'auto';
      // Several nodes: placed on the least-loaded one, which may be another.
      const { id, creatorToken } = deps.cluster
        ? await deps.cluster.create(title, topology, request.body.listed ?? true)
        : createHere(title, topology, request.body.listed);
      const base = deps.publicUrl ?? `${request.protocol}://${request.host}`;
      reply.status(201);
      const link = `${base.replace(/\/$/, '')}/m/${id}`;
      // In the fragment, so the token never reaches a server log or a Referer header.
      return { id, title, link, creatorToken, hostLink: `${link}#host=${encodeURIComponent(creatorToken)}` };
    },
  );

  app.get<{ Params: MeetingIdParams }>(
    '/api/meetings/:id',
    { schema: { params: MeetingIdParams, response: { 200: MeetingDetail } } },
    async (request): Promise<MeetingDetail> => {
      const id = request.params.id;
      const token = bearerToken(request.headers.authorization);
      const live = registry.get(id);
      if (live) {
        const participants = live.participants.map((p) => ({ id: p.id, name: p.name }));
        const { title, state, mode, topology, createdAt, listed } = live;
        return detailOf(id, { title, state, mode, topology, createdAt, listed, participants }, live.isCreatorToken(token));
      }
      if (deps.cluster) {
        // Held by another node (or by none): the shared record and live view.
        const found = await deps.cluster.meeting(id);
        if (!found) throw new CodedError('MEETING_NOT_FOUND');
        const { row, live: seen } = found;
        const shown = { ...row, mode: seen?.mode ?? startingPath(row.topology), participants: seen?.participants ?? [], listed: row.listed !== false };
        return detailOf(id, shown, secretMatches(token, row.creatorTokenHash ?? ''));
      }
      const row = store.meeting(id);
      if (!row) throw new CodedError('MEETING_NOT_FOUND');
      return detailOf(id, { ...row, mode: startingPath(row.topology), participants: [], listed: store.isListed(id) }, false);
    },
  );

  app.delete<{ Params: MeetingIdParams }>(
    '/api/meetings/:id',
    { schema: { params: MeetingIdParams } },
    async (request, reply) => {
      const id = request.params.id;
      const token = bearerToken(request.headers.authorization);
      const live = registry.get(id);
      if (!live && deps.cluster) {
        await deps.cluster.cancel(id, token);
        reply.status(204);
        return reply.send();
      }
      if (!live) {
        const row = store.meeting(id);
        if (!row) throw new CodedError('MEETING_NOT_FOUND');
        // A closed meeting: still only its creator may ask, but we cannot check the token
        // any more (it lived in memory), so everyone gets the meeting's final state.
        throw new CodedError(row.state === 'cancelled' ? 'MEETING_CANCELLED' : 'MEETING_ENDED');
      }
      live.cancel(token);
      reply.status(204);
      return reply.send();
    },
  );

  app.get<{ Params: MeetingIdParams }>(
    '/api/meetings/:id/events',
    { schema: { params: MeetingIdParams, response: { 200: Type.Array(MeetingEventRecord) } } },
    async (request) => {
      const id = request.params.id;
      if (deps.cluster) {
        // The shared record: every node that held the meeting wrote its part there.
        const found = await deps.cluster.meeting(id);
        if (!found) throw new CodedError('MEETING_NOT_FOUND');
        const events = await deps.cluster.events(id);
        if (found.row.listed !== false) return events;
        const isHost = found.row.state === 'open' && secretMatches(bearerToken(request.headers.authorization), found.row.creatorTokenHash ?? '');
        return isHost ? events : withholdEventNames(events);
      }
      const live = registry.get(id);
      if (!live && !store.meeting(id)) throw new CodedError('MEETING_NOT_FOUND');
      const events = store.events(id);
      if (live ? live.listed : store.isListed(id)) return events;
      // Unlisted: names only for the creator while the meeting lives (the token lives in
      // memory); afterwards for nobody.
      return live?.isCreatorToken(bearerToken(request.headers.authorization)) ? events : withholdEventNames(events);
    },
  );
}
