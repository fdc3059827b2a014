// Glass-to-glass latency from the studio to the player on loopback (a short run; the
// 5-minute figure comes from `cargo xtask bench g2g`): p50 ≤ 1 s and no drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { measure, table } from './g2g.mjs';

test('studio → player glass-to-glass: p50 ≤ 1.0 s and steady', async () => {
  const r = await measure({ seconds: 40, window: 20 });
  console.log(table(r));
  assert.deepEqual(r.errors, []);
  assert.ok(r.samples >= 100, `${r.samples} samples`);
  assert.ok(r.p50 <= 1000, `p50 ${r.p50} ms`);
  const [first, last] = [r.windows[0], r.windows[r.windows.length - 1]];
  assert.ok(Math.abs(last.p50 - first.p50) <= 200, `drift: ${first.p50} → ${last.p50} ms`);
});
