// A test pusher: replays an FLV file over HTTP-FLV push (POST /live/ROOM.flv) at its own
// pace, stamping the wall clock into the stream as `onFI` script tags before every video
// keyframe and at least every 500 ms, the way the studio does. The player turns the stamps
// into glass-to-glass latency (here: from "sent" to "shown", encoder time excluded).
import http from 'node:http';
import { readFileSync } from 'node:fs';

/** The tags of an FLV file: {type, ts, body} (body without the 11-byte header). */
export function readFlv(path) {
  const buf = readFileSync(path);
  const tags = [];
  let at = buf.readUInt8(8) === 9 ? 9 + 4 : buf.readUInt32BE(5) + 4;
  while (at + 11 <= buf.length) {
    const type = buf[at];
    const size = buf.readUIntBE(at + 1, 3);
    const ts = (buf.readUIntBE(at + 4, 3) | (buf[at + 7] << 24)) >>> 0;
    if (at + 11 + size > buf.length) break;
    tags.push({ type, ts, body: buf.subarray(at + 11, at + 11 + size) });
    at += 11 + size + 4;
  }
  return tags;
}

function tag(type, ts, body) {
  const out = Buffer.alloc(11 + body.length + 4);
  out[0] = type;
  out.writeUIntBE(body.length, 1, 3);
  out.writeUIntBE(ts & 0xffffff, 4, 3);
  out[7] = (ts >>> 24) & 0xff;
  body.copy(out, 11);
  out.writeUInt32BE(11 + body.length, 11 + body.length);
  return out;
}

function amfString(s) {
  const b = Buffer.alloc(3 + Buffer.byteLength(s));
  b[0] = 2;
  b.writeUInt16BE(Buffer.byteLength(s), 1);
  b.write(s, 3);
  return b;
}

/** The body of an `onFI` script tag: "onFI", {sd, st, wallclock}. */
export function onFi(wallclock) {
  const iso = new Date(wallclock).toISOString();
  const prop = (k, v) => {
    const key = Buffer.alloc(2 + k.length);
    key.writeUInt16BE(k.length, 0);
    key.write(k, 2);
    return Buffer.concat([key, v]);
  };
  const num = Buffer.alloc(9);
  num[0] = 0;
  num.writeDoubleBE(wallclock, 1);
  return Buffer.concat([
    amfString('onFI'),
    Buffer.from([3]),
    prop('sd', amfString(iso.slice(0, 10))),
    prop('st', amfString(iso.slice(11, 23))),
    prop('wallclock', num),
    Buffer.from([0, 0, 9]),
  ]);
}

/**
 * Pushes `tags` to `base`/live/`room`.flv in real time, looping `loops` times (timestamps
 * continue across loops). Returns {done: Promise, stop()}.
 */
export function pushFlv(base, room, tags, { loops = 1, stamp = true, key = 'test' } = {}) {
  const url = new URL(`/live/${room}.flv?key=${encodeURIComponent(key)}`, base);
  const req = http.request(url, { method: 'POST', headers: { 'content-type': 'video/x-flv' } });
  req.on('error', () => {});
  let stopped = false;
  const header = Buffer.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);
  req.write(header);
  const media = tags.filter((t) => t.type !== 18);
  const configs = media.filter((t) => (t.type === 9 && t.body[1] === 0) || (t.type === 8 && (t.body[0] >> 4) === 10 && t.body[1] === 0));
  const frames = media.filter((t) => !configs.includes(t));
  const span = frames[frames.length - 1].ts - frames[0].ts + 33;
  const done = (async () => {
    for (const c of configs) req.write(tag(c.type, 0, c.body));
    const start = performance.now();
    let lastStamp = -Infinity;
    for (let loop = 0; loop < loops && !stopped; loop++) {
      for (const f of frames) {
        if (stopped) break;
        const ts = f.ts - frames[0].ts + loop * span;
        const wait = start + ts - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const key = f.type === 9 && (f.body[0] >> 4) === 1;
        if (stamp && f.type === 9 && (key || ts - lastStamp >= 500)) {
          req.write(tag(18, ts, onFi(Date.now())));
          lastStamp = ts;
        }
        req.write(tag(f.type, ts, f.body));
      }
    }
    req.end();
  })();
  return { done, stop() { stopped = true; req.destroy(); } };
}
