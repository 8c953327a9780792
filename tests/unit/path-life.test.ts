import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PathLife } from '../../client/media/PathLife';

test('a path life moves only along its table, reports each change once, and remembers it was up', () => {
  const life = new PathLife('relay');
  const seen: string[] = [];
  life.onChange = (next, previous, why) => seen.push(`${previous}->${next}:${why}`);
  const quiet = console.info;
  console.info = () => {};
  try {
    assert.ok(life.set('connecting', 'offer'));
    assert.not.ok(life.set('connecting', 'again'), 'a no-op is ignored');
    assert.not.ok(life.set('reconnecting', 'never up'), 'a path that never connected cannot reconnect');
    assert.not.ok(life.everConnected);
    assert.ok(life.set('connected', 'ice'));
    assert.ok(life.everConnected);
    assert.ok(life.set('reconnecting', 'failed'));
    assert.ok(life.set('connected', 'back'));
    assert.ok(life.set('closed', 'switch'));
    assert.not.ok(life.set('connected', 'late event'), 'closed is final');
  } finally {
    console.info = quiet;
  }
  assert.equal(seen, ['new->connecting:offer', 'connecting->connected:ice', 'connected->reconnecting:failed', 'reconnecting->connected:back', 'connected->closed:switch']);
});

test.run();
