//! Soak: a 2-hour stream pushed at 20x real time (6 minutes) through everything a live
//! stream touches — hub, HLS packager, recorder, an HTTP-FLV viewer — must keep the
//! server's memory flat. Run by `cargo xtask soak` (ignored in the normal test run).

mod support;

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use onair_shared::flv::{self, DemuxEvent, Demuxer, FlvHeader, Tag};
use onair_shared::media::Unit;
use support::TestServer;
use support::media::{make_clip, rss_bytes};

const SPEED: u64 = 20;
const MEDIA: Duration = Duration::from_secs(2 * 3600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "6 minutes; run with `cargo xtask soak`"]
async fn two_hours_at_20x_keep_memory_flat() {
    let server = TestServer::start_with(|c| c.republish_grace = Duration::from_secs(1)).await;
    let dir = tempfile::tempdir().unwrap();
    let clip = std::fs::read(make_clip(dir.path(), "clip.flv", 10)).unwrap();
    let mut demux = Demuxer::new(1 << 20);
    demux.push(&clip);
    let mut configs = Vec::new();
    let mut media = Vec::new();
    let mut parser = onair_shared::media::Parser::new();
    while let Some(event) = demux.next_event().unwrap() {
        if let DemuxEvent::Tag(tag) = event {
            // Metadata and sequence headers are sent once, frames looped; an end of
            // sequence would end the decoder's sequence mid-loop, so it is left out.
            match parser.parse(tag.kind, tag.timestamp, &tag.data) {
                Ok(Unit::Frame(_)) => media.push(tag),
                Ok(Unit::Passthrough(_)) => {}
                _ => configs.push(tag),
            }
        }
    }
    let clip_ms = u64::from(media.last().unwrap().timestamp) + 40;

    // The pusher: configs once, then the clip's media looped with shifted timestamps,
    // paced at SPEED x real time, as one continuous HTTP-FLV push.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let pusher = tokio::spawn(async move {
        let mut out = BytesMut::new();
        flv::write_header(&FlvHeader::new(true, true), &mut out);
        for tag in &configs {
            flv::write_tag(tag, &mut out).unwrap();
        }
        tx.send(out.split().freeze()).await.unwrap();
        let start = Instant::now();
        let loops = MEDIA.as_millis() as u64 / clip_ms;
        for i in 0..loops {
            for tag in &media {
                let ts = u64::from(tag.timestamp) + i * clip_ms;
                let due = start + Duration::from_millis(ts / SPEED);
                tokio::time::sleep_until(due.into()).await;
                let shifted = Tag {
                    timestamp: ts as u32,
                    ..tag.clone()
                };
                flv::write_tag(&shifted, &mut out).unwrap();
                if tx.send(out.split().freeze()).await.is_err() {
                    return;
                }
            }
        }
    });
    let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    }));
    let push = tokio::spawn(
        reqwest::Client::new()
            .post(server.url("/live/soak.flv?key=k"))
            .body(body)
            .send(),
    );
    server.wait_live("soak").await;

    // A viewer reading everything, and an HLS client polling the playlist.
    let viewer = tokio::spawn({
        let url = server.url("/live/soak.flv");
        async move {
            let mut total = 0usize;
            let mut body = reqwest::get(url).await.unwrap().bytes_stream();
            while let Some(Ok(chunk)) = body.next().await {
                total += chunk.len();
            }
            total
        }
    });
    let playlist_url = server.url("/hls/live/soak/index.m3u8");

    let mut samples = Vec::new();
    let started = Instant::now();
    let wall = MEDIA / SPEED as u32;
    while started.elapsed() < wall {
        tokio::time::sleep(Duration::from_secs(15)).await;
        let res = reqwest::get(&playlist_url).await.unwrap();
        assert_eq!(
            res.status(),
            200,
            "HLS playlist unavailable during the soak"
        );
        let media_min = started.elapsed().as_secs() * SPEED / 60;
        samples.push((media_min, rss_bytes()));
        println!(
            "media {media_min:4} min: RSS {:.1} MiB",
            rss_bytes() as f64 / 1048576.0
        );
    }
    pusher.await.unwrap();
    let res = push.await.unwrap().unwrap();
    assert!(
        res.status().is_success(),
        "push ended with {}",
        res.status()
    );
    // Flat: every sample after the first 10 minutes of media within 10 % of that one.
    let base = samples
        .iter()
        .find(|(m, _)| *m >= 10)
        .expect("a sample at 10 min")
        .1;
    for (minute, rss) in &samples {
        if *minute >= 10 {
            let ratio = *rss as f64 / base as f64;
            assert!(
                ratio <= 1.10,
                "RSS at {minute} min is {:.1} % of the 10-min value",
                ratio * 100.0
            );
        }
    }
    println!(
        "soak: 2 h of media at {SPEED}x; RSS at 10 min {:.1} MiB, at the end {:.1} MiB",
        base as f64 / 1048576.0,
        samples.last().unwrap().1 as f64 / 1048576.0
    );
    server.stop().await;
    let got = viewer.await.unwrap();
    assert!(got > 50 << 20, "the viewer got only {got} bytes");
}
