// Glass-to-glass latency, studio → server → player on one machine: the studio (/push.html,
// fake camera, WebCodecs) stamps each frame's capture time into the stream (`onFI`), the
// player (/watch/ROOM) reports capture-to-display latency in window.onairStats.g2gMs.
// Used by g2g.test.mjs (short) and `cargo xtask bench g2g` (node g2g.mjs --seconds 300).
import { launch, openPage, createRoom } from './helpers.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Runs the studio and a player for `seconds`, sampling every 250 ms after `warmup` seconds.
 * Returns {samples, p50, p95, windows: [{from, to, p50, p95, n}], dropped, total, studio}.
 */
export async function measure({ seconds = 60, warmup = 5, window = 60, preset = '720p30' } = {}) {
  const browser = await launch(['--use-fake-device-for-media-stream=fps=30']);
  try {
    // A room of a streamer made with the admin token; the studio pushes to it with its key.
    const created = await createRoom(`g2g ${Date.now() % 100000}`);
    const room = created.id;
    const studio = await openPage(browser, `/push.html?room=${room}&key=${encodeURIComponent(created.stream_key)}&preset=${preset}`);
    await studio.page.getByRole('button', { name: 'Go live', exact: true }).click();
    await studio.page.waitForFunction(() => window.onairStudio?.state === 'live' && window.onairStudio.framesEncoded > 10, null, { timeout: 20000 });
    const player = await openPage(browser, `/watch/${room}?stats=1`);
    await player.page.waitForFunction(() => window.onairStats?.g2gMs != null, null, { timeout: 20000 });
    await sleep(warmup * 1000);
    const samples = [];
    const start = Date.now();
    while (Date.now() - start < seconds * 1000) {
      const s = await player.page.evaluate(() => window.onairStats);
      if (s?.g2gMs != null) samples.push({ t: (Date.now() - start) / 1000, ms: s.g2gMs });
      await sleep(250);
    }
    const last = await player.page.evaluate(() => {
      const q = document.querySelector('video').getVideoPlaybackQuality();
      return { dropped: q.droppedVideoFrames, total: q.totalVideoFrames, stats: window.onairStats };
    });
    const studioStats = await studio.page.evaluate(() => window.onairStudio);
    const windows = [];
    for (let from = 0; from < seconds; from += window) {
      const w = samples.filter((s) => s.t >= from && s.t < from + window).map((s) => s.ms);
      if (w.length) windows.push({ from, to: Math.min(seconds, from + window), n: w.length, p50: percentile(w, 50), p95: percentile(w, 95) });
    }
    const all = samples.map((s) => s.ms);
    return {
      samples: all.length, p50: percentile(all, 50), p95: percentile(all, 95), windows,
      dropped: last.dropped, total: last.total, player: last.stats, studio: studioStats,
      errors: [...studio.errors, ...player.errors],
    };
  } finally {
    await browser.close();
  }
}

export function table(r) {
  const lines = ['window s | samples | g2g p50 ms | g2g p95 ms'];
  for (const w of r.windows) lines.push(`${w.from}-${w.to} | ${w.n} | ${w.p50.toFixed(0)} | ${w.p95.toFixed(0)}`);
  lines.push(`all | ${r.samples} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)}`);
  lines.push(`player: dropped ${r.dropped}/${r.total} frames, buffer ${r.player?.buffer?.toFixed(2)} s, ${r.player?.width}x${r.player?.height} @ ${r.player?.fps?.toFixed(1)} fps; studio: ${r.studio?.videoCodec} ${r.studio?.bitrateKbps?.toFixed?.(0)} kbit/s, dropped ${r.studio?.droppedFrames}`);
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name, dflt) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const r = await measure({ seconds: arg('--seconds', 300), window: arg('--window', 60) });
  console.log(table(r));
  if (r.errors.length) console.log('page errors:', r.errors);
}
