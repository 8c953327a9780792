/**
 * A small STUN/TURN client over UDP for tests (RFC 5389 messages, RFC 5766 Allocate and
 * Refresh with the long-term credential mechanism), written from the RFCs rather than
 * from node-turn so it checks the server instead of mirroring it.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { crc32 } from 'node:zlib';

const MAGIC_COOKIE = 0x2112a442;
const FINGERPRINT_XOR = 0x5354554e;

/** STUN/TURN methods used here. */
export const Method = {
  Binding: 0x001,
  Allocate: 0x003,
  Refresh: 0x004,
  Send: 0x006,
  Data: 0x007,
  CreatePermission: 0x008,
  ChannelBind: 0x009,
} as const;

/** STUN message classes, as their two-bit codes. */
export const Class = { Request: 0, Indication: 1, Success: 2, Error: 3 } as const;
export type StunClass = (typeof Class)[keyof typeof Class];

/** Attribute types used here. */
export const Attr = {
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  ChannelNumber: 0x000c,
  Lifetime: 0x000d,
  Realm: 0x0014,
  XorPeerAddress: 0x0012,
  Data: 0x0013,
  Nonce: 0x0015,
  XorRelayedAddress: 0x0016,
  RequestedTransport: 0x0019,
  XorMappedAddress: 0x0020,
  Fingerprint: 0x8028,
} as const;

export interface StunAttribute {
  type: number;
  value: Buffer;
}

export interface StunMessage {
  method: number;
  cls: StunClass;
  transactionId: Buffer;
  attributes: StunAttribute[];
  /** The datagram as received (for integrity checks). */
  raw: Buffer;
}

export interface TransportAddress {
  family: 'IPv4' | 'IPv6';
  address: string;
  port: number;
}

/** The outcome of a request that may be refused with an ERROR-CODE. */
export type TurnResult<T> = ({ ok: true } & T) | { ok: false; code: number; reason: string };

/** The long-term credential key: MD5(username ":" realm ":" password) (RFC 5389 §15.4). */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`).digest();
}

function messageType(method: number, cls: StunClass): number {
  // The class bits C0/C1 sit between the method bits (RFC 5389 §6).
  return (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((cls & 1) << 4) | ((cls & 2) << 7);
}

function header(type: number, bodyLength: number, transactionId: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(bodyLength, 2);
  h.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(h, 8);
  return h;
}

function encodeAttribute({ type, value }: StunAttribute): Buffer {
  const padded = Buffer.alloc(4 + Math.ceil(value.length / 4) * 4);
  padded.writeUInt16BE(type, 0);
  padded.writeUInt16BE(value.length, 2);
  value.copy(padded, 4);
  return padded;
}

/** Encodes a message; with `integrityKey` appends MESSAGE-INTEGRITY, then FINGERPRINT if asked. */
export function encodeStun(
  message: { method: number; cls: StunClass; transactionId: Buffer; attributes: StunAttribute[] },
  options: { integrityKey?: Buffer; fingerprint?: boolean } = {},
): Buffer {
  const type = messageType(message.method, message.cls);
  let body = Buffer.concat(message.attributes.map(encodeAttribute));
  if (options.integrityKey !== undefined) {
    // The HMAC covers the header with a length that already counts MESSAGE-INTEGRITY.
    const hmac = createHmac('sha1', options.integrityKey)
      .update(Buffer.concat([header(type, body.length + 24, message.transactionId), body]))
      .digest();
    body = Buffer.concat([body, encodeAttribute({ type: Attr.MessageIntegrity, value: hmac })]);
  }
  if (options.fingerprint === true) {
    const crc = crc32(Buffer.concat([header(type, body.length + 8, message.transactionId), body]));
    const value = Buffer.alloc(4);
    value.writeUInt32BE((crc ^ FINGERPRINT_XOR) >>> 0, 0);
    body = Buffer.concat([body, encodeAttribute({ type: Attr.Fingerprint, value })]);
  }
  return Buffer.concat([header(type, body.length, message.transactionId), body]);
}

/** Decodes a datagram; undefined when it is not a well-formed STUN message. */
export function decodeStun(raw: Buffer): StunMessage | undefined {
  if (raw.length < 20 || (raw[0]! & 0xc0) !== 0 || raw.readUInt32BE(4) !== MAGIC_COOKIE) return undefined;
  const type = raw.readUInt16BE(0);
  const length = raw.readUInt16BE(2);
  if (20 + length > raw.length) return undefined;
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const cls = (((type & 0x0010) >> 4) | ((type & 0x0100) >> 7)) as StunClass;
  const attributes: StunAttribute[] = [];
  for (let at = 20; at + 4 <= 20 + length; ) {
    const attrType = raw.readUInt16BE(at);
    const attrLength = raw.readUInt16BE(at + 2);
    attributes.push({ type: attrType, value: raw.subarray(at + 4, at + 4 + attrLength) });
    at += 4 + Math.ceil(attrLength / 4) * 4;
  }
  return { method, cls, transactionId: raw.subarray(8, 20), attributes, raw };
}

/** The value of the first attribute of `type`, if present. */
export function attribute(message: StunMessage, type: number): Buffer | undefined {
  return message.attributes.find((a) => a.type === type)?.value;
}

/** Decodes an XOR-MAPPED-ADDRESS / XOR-RELAYED-ADDRESS value (RFC 5389 §15.2). */
export function readXorAddress(value: Buffer, transactionId: Buffer): TransportAddress {
  const port = value.readUInt16BE(2) ^ (MAGIC_COOKIE >>> 16);
  const key = Buffer.alloc(16);
  key.writeUInt32BE(MAGIC_COOKIE, 0);
  transactionId.copy(key, 4);
  if (value[1] === 0x01) {
    const octets = [0, 1, 2, 3].map((i) => value[4 + i]! ^ key[i]!);
    return { family: 'IPv4', address: octets.join('.'), port };
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((value.readUInt16BE(4 + i) ^ key.readUInt16BE(i)).toString(16));
  return { family: 'IPv6', address: groups.join(':'), port };
}

/** Encodes an IPv4 XOR-PEER-ADDRESS value (RFC 5389 §15.2). */
export function writeXorAddress(peer: { address: string; port: number }): Buffer {
  const value = Buffer.alloc(8);
  value[1] = 0x01;
  value.writeUInt16BE(peer.port ^ (MAGIC_COOKIE >>> 16), 2);
  const octets = peer.address.split('.').map(Number);
  const cookie = uint32(MAGIC_COOKIE);
  for (let i = 0; i < 4; i++) value[4 + i] = octets[i]! ^ cookie[i]!;
  return value;
}

/** Decodes an ERROR-CODE value (RFC 5389 §15.6). */
export function readErrorCode(value: Buffer): { code: number; reason: string } {
  return { code: (value[2]! & 0x07) * 100 + value[3]!, reason: value.subarray(4).toString('utf8') };
}

/** True when the message's MESSAGE-INTEGRITY is a valid HMAC under `key`. */
export function hasValidIntegrity(message: StunMessage, key: Buffer): boolean {
  let at = 20;
  for (const a of message.attributes) {
    if (a.type === Attr.MessageIntegrity) {
      const covered = Buffer.from(message.raw.subarray(0, at));
      covered.writeUInt16BE(at - 20 + 24, 2);
      return createHmac('sha1', key).update(covered).digest().equals(a.value);
    }
    at += 4 + Math.ceil(a.value.length / 4) * 4;
  }
  return false;
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

const UDP_TRANSPORT = Buffer.from([17, 0, 0, 0]);

/** One UDP socket talking STUN/TURN to one server: one 5-tuple, hence at most one allocation. */
export class TurnClient {
  readonly #socket: Socket;
  readonly #server: { address: string; port: number };
  readonly #pending = new Map<string, { settle: (message: StunMessage) => void; fail: (err: Error) => void }>();
  /** Data indications received: what peers sent to our relayed address. */
  readonly received: Array<{ from: TransportAddress; data: Buffer }> = [];
  #auth: { username: string; realm: string; nonce: string; key: Buffer } | undefined;
  #closed = false;

  /** Opens a client bound to `localAddress` on an ephemeral port. */
  static async open(server: { address: string; port: number }, localAddress = '127.0.0.1'): Promise<TurnClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, localAddress, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new TurnClient(socket, server);
  }

  private constructor(socket: Socket, server: { address: string; port: number }) {
    this.#socket = socket;
    this.#server = server;
    socket.on('message', (datagram) => {
      const message = decodeStun(datagram);
      if (message === undefined) return;
      if (message.method === Method.Data && message.cls === Class.Indication) {
        const peer = attribute(message, Attr.XorPeerAddress);
        const data = attribute(message, Attr.Data);
        if (peer !== undefined && data !== undefined) {
          this.received.push({ from: readXorAddress(peer, message.transactionId), data: Buffer.from(data) });
        }
        return;
      }
      this.#pending.get(message.transactionId.toString('hex'))?.settle(message);
    });
  }

  /** The client's own address, as a server should see it. */
  get localAddress(): TransportAddress {
    const { address, port } = this.#socket.address();
    return { family: 'IPv4', address, port };
  }

  /** Sends a request and resolves with the response carrying its transaction id. */
  request(
    method: number,
    attributes: StunAttribute[],
    options: { integrityKey?: Buffer; timeoutMs?: number } = {},
  ): Promise<StunMessage> {
    if (this.#closed) return Promise.reject(new Error('TurnClient is closed'));
    const transactionId = randomBytes(12);
    const id = transactionId.toString('hex');
    const timeoutMs = options.timeoutMs ?? 2000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`no STUN response to method 0x${method.toString(16)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#pending.delete(id);
      };
      this.#pending.set(id, {
        settle: (message) => {
          done();
          resolve(message);
        },
        fail: (err) => {
          done();
          reject(err);
        },
      });
      // FINGERPRINT, as browsers send it; it also makes the server add one to its reply.
      const datagram = encodeStun(
        { method, cls: Class.Request, transactionId, attributes },
        { integrityKey: options.integrityKey, fingerprint: true },
      );
      this.#socket.send(datagram, this.#server.port, this.#server.address);
    });
  }

  /** A STUN Binding request: the address the server saw us at. */
  async binding(): Promise<TransportAddress> {
    const response = await this.request(Method.Binding, []);
    const mapped = attribute(response, Attr.XorMappedAddress);
    if (response.cls !== Class.Success || mapped === undefined) throw new Error('Binding failed');
    return readXorAddress(mapped, response.transactionId);
  }

  /** Allocates a UDP relay: an unauthenticated try for REALM and NONCE, then the signed request. */
  async allocate(
    username: string,
    password: string,
  ): Promise<TurnResult<{ relayed: TransportAddress; mapped: TransportAddress; lifetime: number }>> {
    const challenge = await this.request(Method.Allocate, [{ type: Attr.RequestedTransport, value: UDP_TRANSPORT }]);
    const realm = attribute(challenge, Attr.Realm)?.toString('utf8');
    const nonce = attribute(challenge, Attr.Nonce)?.toString('utf8');
    if (challenge.cls !== Class.Error || realm === undefined || nonce === undefined) {
      throw new Error('expected a 401 challenge with REALM and NONCE');
    }
    this.#auth = { username, realm, nonce, key: longTermKey(username, realm, password) };

    const response = await this.#authenticated(Method.Allocate, [{ type: Attr.RequestedTransport, value: UDP_TRANSPORT }]);
    if (response.cls === Class.Error) return { ok: false, ...this.#errorOf(response) };
    const relayed = attribute(response, Attr.XorRelayedAddress);
    const mapped = attribute(response, Attr.XorMappedAddress);
    const lifetime = attribute(response, Attr.Lifetime);
    if (relayed === undefined || mapped === undefined || lifetime === undefined) {
      throw new Error('Allocate success without XOR-RELAYED-ADDRESS, XOR-MAPPED-ADDRESS and LIFETIME');
    }
    return {
      ok: true,
      relayed: readXorAddress(relayed, response.transactionId),
      mapped: readXorAddress(mapped, response.transactionId),
      lifetime: lifetime.readUInt32BE(0),
    };
  }

  /** Refreshes the allocation (lifetime 0 deletes it), signed with the credential of allocate(). */
  async refresh(lifetimeSeconds?: number): Promise<TurnResult<{ lifetime: number }>> {
    const attributes = lifetimeSeconds === undefined ? [] : [{ type: Attr.Lifetime, value: uint32(lifetimeSeconds) }];
    const response = await this.#authenticated(Method.Refresh, attributes);
    if (response.cls === Class.Error) return { ok: false, ...this.#errorOf(response) };
    return { ok: true, lifetime: attribute(response, Attr.Lifetime)?.readUInt32BE(0) ?? -1 };
  }

  /** Asks the server to let `peer`'s address send to and receive from our relay. */
  async createPermission(peer: { address: string; port: number }): Promise<TurnResult<object>> {
    const response = await this.#authenticated(Method.CreatePermission, [{ type: Attr.XorPeerAddress, value: writeXorAddress(peer) }]);
    if (response.cls === Class.Error) return { ok: false, ...this.#errorOf(response) };
    return { ok: true };
  }

  /** Binds `channel` (0x4000–0x7FFE) to `peer`. */
  async channelBind(channel: number, peer: { address: string; port: number }): Promise<TurnResult<object>> {
    const value = Buffer.alloc(4);
    value.writeUInt16BE(channel, 0);
    const response = await this.#authenticated(Method.ChannelBind, [
      { type: Attr.ChannelNumber, value },
      { type: Attr.XorPeerAddress, value: writeXorAddress(peer) },
    ]);
    if (response.cls === Class.Error) return { ok: false, ...this.#errorOf(response) };
    return { ok: true };
  }

  /** A Send indication: asks the server to relay `data` to `peer` (no answer either way). */
  sendIndication(peer: { address: string; port: number }, data: Buffer): void {
    if (this.#closed) throw new Error('TurnClient is closed');
    const datagram = encodeStun(
      {
        method: Method.Send,
        cls: Class.Indication,
        transactionId: randomBytes(12),
        attributes: [
          { type: Attr.XorPeerAddress, value: writeXorAddress(peer) },
          { type: Attr.Data, value: data },
        ],
      },
      { fingerprint: true },
    );
    this.#socket.send(datagram, this.#server.port, this.#server.address);
  }

  /** Closes the socket and fails any request still waiting. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { fail } of [...this.#pending.values()]) fail(new Error('TurnClient closed'));
    this.#socket.close();
  }

  async #authenticated(method: number, attributes: StunAttribute[]): Promise<StunMessage> {
    const auth = this.#auth;
    if (auth === undefined) throw new Error('allocate() first: no credential yet');
    const response = await this.request(
      method,
      [
        ...attributes,
        { type: Attr.Username, value: Buffer.from(auth.username) },
        { type: Attr.Realm, value: Buffer.from(auth.realm) },
        { type: Attr.Nonce, value: Buffer.from(auth.nonce) },
      ],
      { integrityKey: auth.key },
    );
    // A success must prove the server knows our key (RFC 5389 §10.2.3).
    if (response.cls === Class.Success && !hasValidIntegrity(response, auth.key)) {
      throw new Error('success response with a bad MESSAGE-INTEGRITY');
    }
    return response;
  }

  #errorOf(response: StunMessage): { code: number; reason: string } {
    const value = attribute(response, Attr.ErrorCode);
    if (value === undefined) throw new Error('error response without ERROR-CODE');
    return readErrorCode(value);
  }
}
