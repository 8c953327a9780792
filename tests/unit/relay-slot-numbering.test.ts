/**
 * A slot's sequence numbers (relay/SlotNumbering.ts): a new source continues the slot's
 * stream, skipped padding leaves no hole, and a packet that arrives late — a retransmission
 * the relay asked for — gets the number it would have had, never one already given out.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SlotNumbering } from '../../relay/SlotNumbering';

test('a new source continues right after the last number, across the wrap', () => {
  const numbering = new SlotNumbering(65_534);
  numbering.rebase(1000);
  assert.equal([1000, 1001, 1002].map((s) => numbering.map(s)), [65_535, 0, 1]);
  numbering.rebase(40);
  assert.equal([40, 41].map((s) => numbering.map(s)), [2, 3]);
});

test('skipped padding leaves no hole; a late packet from before a skip keeps its own number', () => {
  const numbering = new SlotNumbering(499);
  numbering.rebase(100);
  const out = [numbering.map(100)];
  // 101 is lost on the publisher's uplink; 102 and 103 are padding (not forwarded).
  numbering.skip(102);
  numbering.skip(103);
  out.push(numbering.map(104), numbering.map(105));
  // 101 arrives late (the relay asked for it again): it fills the hole the viewer saw.
  const late = numbering.map(101);
  assert.equal(out, [500, 502, 503]);
  assert.is(late, 501);
});

test('a skip behind what was already numbered is ignored (it stays a hole); numbering never goes back', () => {
  const numbering = new SlotNumbering(0);
  numbering.rebase(10);
  assert.is(numbering.map(10), 1);
  assert.is(numbering.map(12), 3);
  numbering.skip(11);
  assert.is(numbering.map(13), 4);
  assert.is(numbering.newest, 4);
});

test('skips long past are folded into the offset: numbers stay right across thousands of packets and the wrap', () => {
  const numbering = new SlotNumbering(9);
  numbering.rebase(60_000);
  let expected = 10;
  let seq = 60_000;
  for (let i = 0; i < 10_000; i++) {
    if (i % 50 === 7) {
      numbering.skip(seq);
    } else {
      assert.is(numbering.map(seq), expected & 0xffff, `packet ${i}`);
      expected += 1;
    }
    seq = (seq + 1) & 0xffff;
  }
});

test.run();
