import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MixRecorder, type RecorderStop } from '../../relay/recording/MixRecorder';
import { FRAME_SAMPLES } from '../../relay/audio/AudioFormat';
import { readOggPages } from '../helpers/ogg';
import { tempDir } from '../helpers/server';

test('a recording stops by itself at its size cap and leaves a complete Ogg file', async () => {
  const dir = tempDir();
  try {
    const recorder = new MixRecorder(join(dir.dir, 'm', 'r.ogg'), 8192);
    let stoppedBy: RecorderStop | undefined;
    recorder.onStop = (why) => (stoppedBy = why);
    const mix = new Float32Array(FRAME_SAMPLES);
    for (let tick = 0; tick < 5000 && stoppedBy === undefined; tick++) {
      for (let i = 0; i < FRAME_SAMPLES; i++) mix[i] = 8000 * Math.sin((2 * Math.PI * 440 * (tick * FRAME_SAMPLES + i)) / 48_000) + (Math.random() - 0.5) * 4000;
      recorder.push(mix);
    }
    assert.is(stoppedBy, 'size cap reached');
    await recorder.stop();
    const file = readFileSync(recorder.path);
    assert.is(file.length, recorder.bytes, 'every byte counted is on disk');
    const pages = readOggPages(file);
    assert.is(pages.at(-1)?.flags, 0x04, 'closed with an end-of-stream page');
    assert.ok(recorder.durationMs > 0 && file.length < 8192 + 4096, `capped near 8 KiB (${file.length} bytes, ${recorder.durationMs} ms)`);
  } finally {
    dir.remove();
  }
});

test.run();
