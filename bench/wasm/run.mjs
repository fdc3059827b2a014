// Times the wasm remux (FLV → fMP4, `onair_shared::remux`) under Node: one push per FLV tag,
// as the player gets one WS-FLV message per tag. Usage: node run.mjs PKG_DIR FLV [RUNS]
// Prints a table; each run starts a fresh remuxer over the whole file.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';

const [pkg, file, runsArg] = process.argv.slice(2);
const { Remux } = createRequire(import.meta.url)(join(resolve(pkg), 'onair_bench_wasm.js'));
const flv = readFileSync(file);

// Split into messages exactly as WS-FLV sends them: the 13-byte header, then one tag each.
const messages = [flv.subarray(0, 13)];
let at = 13;
let lastTs = 0;
while (at + 11 <= flv.length) {
  const size = flv.readUIntBE(at + 1, 3);
  lastTs = (flv.readUIntBE(at + 4, 3) | (flv[at + 7] << 24)) >>> 0;
  messages.push(flv.subarray(at, at + 11 + size + 4));
  at += 11 + size + 4;
}
const media = lastTs / 1000;
const mbit = (flv.length * 8) / media / 1e6;

const runs = Number(runsArg ?? 7);
const times = [];
let check;
for (let i = 0; i < runs + 1; i++) {
  const r = new Remux();
  const t0 = process.hrtime.bigint();
  for (const m of messages) r.push(m);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error()) throw new Error(r.error());
  check = { frames: r.video_frames(), fragments: r.fragments(), out: r.bytes_out() };
  r.free();
  if (i > 0) times.push(ms); // the first run warms up the JIT
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
const row = (cols) => console.log(cols.join(' | '));
row(['input', 'media s', 'Mbit/s', 'tags', 'video frames', 'fMP4 MB', 'runs', 'ms median / min / max', 'x real time (median)']);
row([
  file.split('/').pop(), media.toFixed(1), mbit.toFixed(2), messages.length - 1, check.frames,
  (check.out / 1e6).toFixed(2), runs,
  `${median.toFixed(1)} / ${times[0].toFixed(1)} / ${times[times.length - 1].toFixed(1)}`,
  ((media * 1000) / median).toFixed(0),
]);
