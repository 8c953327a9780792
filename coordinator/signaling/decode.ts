/**
 * The edge: turns one raw WebSocket frame into a validated `ClientMessage`, or a coded
 * error saying exactly what was wrong. Nothing past this point sees raw JSON.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { CodedError } from '../../protocol/errors';
import { LIMITS } from '../../protocol/limits';
import { ClientMessage } from '../../protocol/signaling';

// One compiled checker per message type: the `type` field picks it, so the error names
// the field that is wrong in *that* message rather than in the union's first member.
const checkers = new Map<string, TypeCheck<TSchema>>(
  ClientMessage.anyOf.map((schema) => [String(schema.properties.type.const), TypeCompiler.Compile(schema)]),
);

export type Decoded =
  | { ok: true; message: ClientMessage }
  | { ok: false; error: CodedError; requestId?: number };

/** Decodes and validates one frame; never throws. */
export function decodeClientMessage(raw: Buffer | string): Decoded {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > LIMITS.messageBytesMax) {
    return fail('MESSAGE_TOO_LARGE', `Messages are limited to ${LIMITS.messageBytesMax} bytes.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return fail('MALFORMED_JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('BAD_MESSAGE', 'A message must be a JSON object with a "type".');
  }
  const { type, id } = value as { type?: unknown; id?: unknown };
  const requestId = typeof id === 'number' && Number.isInteger(id) && id >= 0 ? id : undefined;
  const checker = typeof type === 'string' ? checkers.get(type) : undefined;
  if (!checker) {
    return fail('UNKNOWN_MESSAGE_TYPE', `Unknown message type: ${JSON.stringify(type) ?? 'none'}.`, requestId);
  }
  if (!checker.Check(value)) {
    const first = checker.Errors(value).First();
    const where = first?.path ? ` at ${first.path}` : '';
    return fail('BAD_MESSAGE', `Invalid "${String(type)}" message${where}: ${first?.message ?? 'wrong shape'}.`, requestId);
  }
  return { ok: true, message: value as ClientMessage };
}

function fail(code: CodedError['code'], message?: string, requestId?: number): Decoded {
  const error = new CodedError(code, message);
  return requestId === undefined ? { ok: false, error } : { ok: false, error, requestId };
}
