/** Which tile is large: a grid up to four tiles; beyond, or with a shared screen, one large tile and a strip. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseLayout, type LayoutTile } from '../../client/room/layout';

const camera = (key: string, speaking = false, self = false): LayoutTile => ({ key, self, source: 'camera', speaking });
const screen = (key: string, self = false): LayoutTile => ({ key, self, source: 'screen', speaking: false });
const me = camera('self', false, true);

test('up to four tiles share a grid', () => {
  assert.equal(chooseLayout([me, camera('a'), camera('b'), camera('c', true)], null, null), { mode: 'grid' });
});

test('a fifth tile makes the active speaker large', () => {
  const tiles = [me, camera('a'), camera('b'), camera('c', true), camera('d')];
  assert.equal(chooseLayout(tiles, null, null), { mode: 'spotlight', featured: 'c' });
});

test('nobody talking: the first other person, never yourself', () => {
  const tiles = [camera('self', true, true), camera('a'), camera('b'), camera('c'), camera('d')];
  assert.equal(chooseLayout(tiles, null, null), { mode: 'spotlight', featured: 'a' });
});

test('the large speaker stays while talking, and while nobody else talks', () => {
  const talking = [me, camera('a', true), camera('b', true), camera('c'), camera('d')];
  assert.equal(chooseLayout(talking, 'b', null), { mode: 'spotlight', featured: 'b' });
  const quiet = [me, camera('a'), camera('b'), camera('c'), camera('d')];
  assert.equal(chooseLayout(quiet, 'c', null), { mode: 'spotlight', featured: 'c' });
  const other = [me, camera('a'), camera('b'), camera('c'), camera('d', true)];
  assert.equal(chooseLayout(other, 'c', null), { mode: 'spotlight', featured: 'd' });
});

test("another person's shared screen is large even with few tiles, over any speaker", () => {
  assert.equal(chooseLayout([me, camera('a', true), screen('a:screen')], 'a', null), { mode: 'spotlight', featured: 'a:screen' });
});

test('of two shared screens the one shown stays', () => {
  const tiles = [me, camera('a'), screen('a:screen'), camera('b'), screen('b:screen')];
  assert.equal(chooseLayout(tiles, 'b:screen', null), { mode: 'spotlight', featured: 'b:screen' });
  assert.equal(chooseLayout(tiles, null, null), { mode: 'spotlight', featured: 'a:screen' });
});

test('your own screen goes in the strip: the others stay large', () => {
  const tiles = [me, screen('self:screen', true), camera('a', true)];
  assert.equal(chooseLayout(tiles, null, null), { mode: 'spotlight', featured: 'a' });
});

test('a pinned tile is large until it is gone', () => {
  const tiles = [me, camera('a'), screen('a:screen'), camera('b')];
  assert.equal(chooseLayout(tiles, 'a:screen', 'b'), { mode: 'spotlight', featured: 'b' });
  assert.equal(chooseLayout([me, camera('a')], null, 'b'), { mode: 'grid' });
});

test.run();
