/**
 * One recording of a meeting: the relay mixer's full mix (everyone who talks, the host
 * included), encoded once more with Opus and written as Ogg Opus to a file, up to a size
 * cap. Fed by the mixer's tick, so it must stay cheap: one encode, an occasional page
 * append through a write stream.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { MixEncoder } from '../audio/MixEncoder';
import { OggOpusWriter } from './OggOpusWriter';

export type RecorderStop = 'stopped' | 'size cap reached' | 'meeting over' | 'write failed';

export class MixRecorder {
  private readonly encoder = new MixEncoder();
  private readonly ogg = new OggOpusWriter();
  private readonly out: WriteStream;
  private frames = 0;
  private written = 0;
  private stopped = false;
  /** Called once when the recording ends on its own (cap reached, disk error). */
  onStop: (why: RecorderStop) => void = () => {};

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    this.out = createWriteStream(path);
    this.out.on('error', () => this.stop('write failed'));
    this.write(this.ogg.headers());
  }

  /** Media time recorded so far (20 ms per mixer tick). */
  get durationMs(): number {
    return this.frames * 20;
  }

  get bytes(): number {
    return this.written;
  }

  /** One tick's full mix. */
  push(mix: Float32Array): void {
    if (this.stopped) return;
    this.frames += 1;
    this.write(this.ogg.packet(this.encoder.encode(mix)));
    if (this.written >= this.maxBytes) this.stop('size cap reached');
  }

  /** Ends the file (end-of-stream page) and closes it; resolves once it is on disk. Idempotent. */
  stop(why: RecorderStop = 'stopped'): Promise<void> {
    if (this.stopped) return this.closed;
    this.stopped = true;
    if (why !== 'write failed') this.write(this.ogg.end(), true);
    // 'close' comes after the last write is flushed, and after an error too.
    this.closed = this.out.closed ? Promise.resolve() : new Promise((resolve) => this.out.once('close', () => resolve()));
    this.out.end();
    // Ended on its own: the owner learns it last, when the figures are final.
    if (why === 'size cap reached' || why === 'write failed') this.onStop(why);
    return this.closed;
  }

  private closed: Promise<void> = Promise.resolve();

  private write(bytes: Buffer, force = false): void {
    if (bytes.length === 0 || (this.stopped && !force)) return;
    this.written += bytes.length;
    this.out.write(bytes);
  }
}
