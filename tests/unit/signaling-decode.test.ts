import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeClientMessage } from '../../coordinator/signaling/decode';
import { LIMITS } from '../../protocol/limits';

function codeOf(raw: string | Buffer): string | undefined {
  const decoded = decodeClientMessage(raw);
  return decoded.ok ? undefined : decoded.error.code;
}

test('a well-formed join decodes to a typed message', () => {
  const decoded = decodeClientMessage(JSON.stringify({ type: 'join', id: 1, meetingId: 'abc', name: 'Alice' }));
  assert.ok(decoded.ok);
  if (decoded.ok && decoded.message.type === 'join') assert.is(decoded.message.name, 'Alice');
});

test('malformed JSON is MALFORMED_JSON', () => {
  assert.is(codeOf('{"type":'), 'MALFORMED_JSON');
});

test('non-objects and missing types are refused clearly', () => {
  assert.is(codeOf('[1,2]'), 'BAD_MESSAGE');
  assert.is(codeOf('"join"'), 'BAD_MESSAGE');
  assert.is(codeOf('{}'), 'UNKNOWN_MESSAGE_TYPE');
  assert.is(codeOf('{"type":"teleport"}'), 'UNKNOWN_MESSAGE_TYPE');
});

test('a wrong field type names the field', () => {
  const decoded = decodeClientMessage(JSON.stringify({ type: 'join', id: 3, meetingId: 'abc', name: 42 }));
  assert.not.ok(decoded.ok);
  if (!decoded.ok) {
    assert.is(decoded.error.code, 'BAD_MESSAGE');
    assert.match(decoded.error.message, '/name');
    assert.is(decoded.requestId, 3, 'the error can be correlated with the request');
  }
});

test('unexpected extra fields are refused', () => {
  assert.is(codeOf(JSON.stringify({ type: 'leave', sneaky: true })), 'BAD_MESSAGE');
});

test('frames over the size limit are MESSAGE_TOO_LARGE', () => {
  const text = 'x'.repeat(LIMITS.messageBytesMax + 1);
  assert.is(codeOf(JSON.stringify({ type: 'chat', id: 1, messageId: 'm', text })), 'MESSAGE_TOO_LARGE');
});

test('peer signals must have a known shape', () => {
  const ok = { type: 'signal', to: 'p', conn: 'c1', data: { type: 'candidate', candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5000 typ host', sdpMid: '0', sdpMLineIndex: 0 } } };
  assert.is(codeOf(JSON.stringify(ok)), undefined);
  assert.is(codeOf(JSON.stringify({ type: 'signal', to: 'p', data: { type: 'offer' } })), 'BAD_MESSAGE');
  assert.is(codeOf(JSON.stringify({ type: 'signal', to: 'p', data: { type: 'evil', payload: 1 } })), 'BAD_MESSAGE');
});

test.run();
