/**
 * Recordings of a meeting's mix, for its hosts only: the list, and each file as
 * `audio/ogg`. The host credential is checked against the hash the record keeps, so this
 * works after the meeting ended and after a restart too.
 */
import { createReadStream, existsSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { CodedError } from '../../protocol/errors';
import { MeetingIdParams, RecordingInfo, RecordingParams } from '../../protocol/rest';
import { secretMatches } from '../ids';
import type { EventStore } from '../records/EventStore';
import { bearerToken } from './privacy';

/** Registers the recording routes. */
export async function recordingRoutes(app: FastifyInstance, deps: { store: EventStore }): Promise<void> {
  const { store } = deps;

  /** 404 for an unknown meeting, 401 without a credential, 403 with the wrong one. */
  const assertHost = (request: FastifyRequest, meetingId: string): void => {
    const row = store.meeting(meetingId);
    if (!row) throw new CodedError('MEETING_NOT_FOUND');
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) throw new CodedError('HOST_TOKEN_REQUIRED');
    if (!row.creatorTokenHash || !secretMatches(token, row.creatorTokenHash)) throw new CodedError('NOT_HOST');
  };

  app.get<{ Params: MeetingIdParams }>(
    '/api/meetings/:id/recordings',
    { schema: { params: MeetingIdParams, response: { 200: Type.Array(RecordingInfo) } } },
    async (request): Promise<RecordingInfo[]> => {
      const { id } = request.params;
      assertHost(request, id);
      return store.recordings(id).map((r) => ({
        id: r.id,
        startedAt: r.startedAt,
        durationMs: r.durationMs,
        bytes: r.bytes,
        url: `/api/meetings/${encodeURIComponent(id)}/recordings/${encodeURIComponent(r.id)}`,
      }));
    },
  );

  app.get<{ Params: RecordingParams }>(
    '/api/meetings/:id/recordings/:recordingId',
    { schema: { params: RecordingParams } },
    async (request, reply) => {
      const { id, recordingId } = request.params;
      assertHost(request, id);
      const recording = store.recordings(id).find((r) => r.id === recordingId);
      if (!recording || !existsSync(recording.path)) throw new CodedError('RECORDING_NOT_FOUND');
      reply.type('audio/ogg');
      reply.header('content-disposition', `attachment; filename="meeting-${id}-${recordingId}.ogg"`);
      return reply.send(createReadStream(recording.path));
    },
  );
}
