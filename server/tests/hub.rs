//! The hub through its public API: what a new viewer starts with, batching, republish
//! continuity, refusals and the end of a stream.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use onair_server::hub::{Hub, HubConfig, HubError, MediaKind, Protocol, SubscribeEnd, Subscriber};
use onair_server::metrics::Metrics;

/// AVC sequence header: a well-formed avcC (one SPS, one PPS), as ingest requires.
const AVC_SEQ: &[u8] = &[
    0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xce,
];
const AAC_SEQ: &[u8] = &[0xaf, 0, 0x12, 0x10];
const KEY: &[u8] = &[0x17, 1, 0, 0, 0, 0xaa];
const INTER: &[u8] = &[0x27, 1, 0, 0, 0, 0xbb];
const AUDIO: &[u8] = &[0xaf, 1, 0x21];

fn hub(grace: Duration) -> Arc<Hub> {
    Hub::new(
        HubConfig {
            republish_grace: grace,
            ..HubConfig::default()
        },
        Arc::new(Metrics::default()),
    )
}

fn b(x: &'static [u8]) -> Bytes {
    Bytes::from_static(x)
}

/// Everything the subscriber has ready now, as (kind, timestamp).
fn drain(sub: &mut Subscriber) -> Vec<(MediaKind, u32)> {
    let mut out = Vec::new();
    while let Some(Ok(p)) = sub.try_next() {
        out.push((p.kind, p.timestamp));
    }
    out
}

#[tokio::test]
async fn a_new_viewer_starts_with_configs_and_the_last_gop() {
    let hub = hub(Duration::from_secs(10));
    let mut publisher = hub.publish("live/a", Protocol::Rtmp).unwrap();
    publisher.push(MediaKind::Video, 0, b(AVC_SEQ));
    publisher.push(MediaKind::Audio, 0, b(AAC_SEQ));
    publisher.push(MediaKind::Video, 0, b(KEY));
    publisher.push(MediaKind::Video, 40, b(INTER));
    publisher.push(MediaKind::Video, 1000, b(KEY));
    publisher.push(MediaKind::Audio, 1010, b(AUDIO));
    publisher.push(MediaKind::Video, 1040, b(INTER));
    let mut sub = hub.subscribe("live/a", Protocol::HttpFlv).unwrap();
    assert!(sub.has_audio && sub.has_video);
    let got = drain(&mut sub);
    assert_eq!(
        got,
        [
            (MediaKind::Video, 0),
            (MediaKind::Audio, 0),
            (MediaKind::Video, 1000),
            (MediaKind::Audio, 1010),
            (MediaKind::Video, 1040)
        ],
        "configs, then the GOP from the newest keyframe, nothing twice"
    );
    assert_eq!(hub.get("live/a").unwrap().viewer_count(), 1);
    drop(sub);
    assert_eq!(hub.get("live/a").unwrap().viewer_count(), 0);
}

#[tokio::test]
async fn audio_rides_with_the_next_video_frame() {
    let hub = hub(Duration::from_secs(10));
    let mut publisher = hub.publish("live/b", Protocol::Rtmp).unwrap();
    publisher.push(MediaKind::Video, 0, b(AVC_SEQ));
    publisher.push(MediaKind::Video, 0, b(KEY));
    let mut sub = hub.subscribe("live/b", Protocol::HttpFlv).unwrap();
    drain(&mut sub);
    publisher.push(MediaKind::Audio, 10, b(AUDIO));
    publisher.push(MediaKind::Audio, 30, b(AUDIO));
    assert_eq!(
        drain(&mut sub),
        [],
        "audio is held for the next video frame"
    );
    publisher.push(MediaKind::Video, 40, b(INTER));
    assert_eq!(
        drain(&mut sub),
        [
            (MediaKind::Audio, 10),
            (MediaKind::Audio, 30),
            (MediaKind::Video, 40)
        ]
    );
    // Without video, audio is not held longer than 40 ms of media time.
    publisher.push(MediaKind::Audio, 50, b(AUDIO));
    publisher.push(MediaKind::Audio, 70, b(AUDIO));
    assert_eq!(drain(&mut sub), []);
    publisher.push(MediaKind::Audio, 95, b(AUDIO));
    assert_eq!(
        drain(&mut sub),
        [
            (MediaKind::Audio, 50),
            (MediaKind::Audio, 70),
            (MediaKind::Audio, 95)
        ]
    );
}

#[tokio::test]
async fn second_publisher_refused_and_republish_keeps_timestamps_monotonic() {
    let hub = hub(Duration::from_secs(10));
    let mut first = hub.publish("live/c", Protocol::Rtmp).unwrap();
    assert_eq!(
        hub.publish("live/c", Protocol::HttpFlv).err(),
        Some(HubError::AlreadyPublishing("live/c".into()))
    );
    first.push(MediaKind::Video, 0, b(AVC_SEQ));
    first.push(MediaKind::Video, 5000, b(KEY));
    first.push(MediaKind::Video, 5040, b(INTER));
    let mut sub = hub.subscribe("live/c", Protocol::WsFlv).unwrap();
    drain(&mut sub);
    drop(first); // a drop, not an unpublish: the grace period starts
    let mut second = hub
        .publish("live/c", Protocol::Rtmp)
        .expect("the publisher may return within the grace");
    second.push(MediaKind::Video, 0, b(AVC_SEQ));
    second.push(MediaKind::Video, 0, b(KEY));
    second.push(MediaKind::Video, 40, b(INTER));
    let got = drain(&mut sub);
    let ts: Vec<u32> = got.iter().map(|g| g.1).collect();
    assert_eq!(
        ts,
        [5041, 5041, 5081],
        "the second session continues after the first"
    );
}

#[tokio::test]
async fn viewers_see_the_end_after_an_unpublish_or_the_grace() {
    let hub = hub(Duration::from_millis(200));
    let publisher = hub.publish("live/d", Protocol::Rtmp).unwrap();
    let mut sub = hub.subscribe("live/d", Protocol::HttpFlv).unwrap();
    publisher.finish();
    assert_eq!(sub.next().await.err(), Some(SubscribeEnd::Ended));
    assert!(hub.get("live/d").is_none());
    assert!(matches!(
        hub.subscribe("live/d", Protocol::HttpFlv),
        Err(HubError::NotFound(_))
    ));

    let publisher = hub.publish("live/e", Protocol::Rtmp).unwrap();
    let mut sub = hub.subscribe("live/e", Protocol::HttpFlv).unwrap();
    drop(publisher);
    let end = tokio::time::timeout(Duration::from_secs(2), sub.next())
        .await
        .expect("ended after the grace");
    assert_eq!(end.err(), Some(SubscribeEnd::Ended));
    assert!(hub.get("live/e").is_none());
}

#[tokio::test]
async fn a_config_change_mid_stream_reaches_every_viewer() {
    const AVC_SEQ_720: &[u8] = &[
        0x17, 0, 0, 0, 0, 1, 0x4d, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x4d, 0, 0x1f, 1, 0, 2, 0x68,
        0xce,
    ];
    let hub = hub(Duration::from_secs(10));
    let mut publisher = hub.publish("live/f", Protocol::Rtmp).unwrap();
    publisher.push(MediaKind::Video, 0, b(AVC_SEQ));
    publisher.push(MediaKind::Video, 0, b(KEY));
    let mut early = hub.subscribe("live/f", Protocol::HttpFlv).unwrap();
    drain(&mut early);
    // The publisher changes resolution: a new sequence header, then a keyframe.
    publisher.push(MediaKind::Video, 1000, b(AVC_SEQ_720));
    publisher.push(MediaKind::Video, 1000, b(KEY));
    let mut late = hub.subscribe("live/f", Protocol::WsFlv).unwrap();
    for sub in [&mut early, &mut late] {
        let mut configs = Vec::new();
        while let Some(Ok(p)) = sub.try_next() {
            if p.is_config() {
                configs.push(p.body.clone());
            }
        }
        assert_eq!(
            configs.last().map(|c| &c[..]),
            Some(AVC_SEQ_720),
            "the new config reaches every viewer"
        );
    }
}
