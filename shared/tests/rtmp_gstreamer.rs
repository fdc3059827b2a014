//! Real-client tests with GStreamer's rtmp2 elements, which are strict about the handshake
//! and the connect / createStream / publish answers. Skipped (with a note) if
//! `gst-launch-1.0` or the rtmp2 plugin is absent.
#![cfg(not(target_arch = "wasm32"))]

mod rtmp_support;

use std::time::Duration;

use onair_shared::rtmp::SessionEvent;
use rtmp_support::{accept, drive, have, listen, new_session, serve_flv, spawn};

fn gstreamer_present() -> bool {
    let ok = have("gst-inspect-1.0", "rtmp2sink")
        && have("gst-inspect-1.0", "x264enc")
        && have("gst-inspect-1.0", "avenc_aac");
    if !ok {
        eprintln!("SKIPPED: gst-launch-1.0 with rtmp2sink, x264enc and avenc_aac is not installed");
    }
    ok
}

#[test]
fn gstreamer_rtmp2sink_publishes() {
    if !gstreamer_present() {
        return;
    }
    let (listener, url) = listen("/live/room2?key=abc");
    let location = format!("location={url}");
    let pipeline = format!(
        "videotestsrc is-live=true num-buffers=75 ! video/x-raw,width=320,height=240,framerate=25/1 \
         ! x264enc key-int-max=25 tune=zerolatency ! h264parse ! flvmux name=mux streamable=true \
         ! rtmp2sink {location} \
         audiotestsrc is-live=true num-buffers=120 ! audioconvert ! avenc_aac ! aacparse ! mux."
    );
    let mut args = vec!["-q", "-e"];
    args.extend(pipeline.split_whitespace());
    let mut gst = spawn("gst-launch-1.0", &args);
    let mut stream = accept(&listener, &mut gst);
    let mut session = new_session();
    let (mut name, mut metadata, mut video, mut audio) = (None, false, Vec::new(), 0);
    drive(
        &mut stream,
        &mut session,
        |session, event, out| match event {
            SessionEvent::PublishRequested {
                stream_id, name: n, ..
            } => {
                name = Some(n);
                session.accept_publish(stream_id, out);
            }
            SessionEvent::Script { data, .. } => {
                metadata |= onair_shared::media::Script::parse(&data).is_ok_and(|s| s.is_metadata())
            }
            SessionEvent::Video { timestamp, .. } => video.push(timestamp),
            SessionEvent::Audio { .. } => audio += 1,
            _ => {}
        },
    );
    let (status, stderr) = gst.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "gst-launch failed: {status} {stderr}");
    assert_eq!(name.as_deref(), Some("room2?key=abc"));
    assert!(metadata, "no onMetaData");
    assert!(video.len() >= 50, "only {} video messages", video.len());
    assert!(
        video.windows(2).all(|w| w[0] <= w[1]),
        "video DTS went back"
    );
    assert!(audio > 20, "only {audio} audio messages");
}

#[test]
fn gstreamer_rtmp2src_plays() {
    if !gstreamer_present() || !have("gst-inspect-1.0", "avdec_h264") {
        return;
    }
    let flv = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/avc_aac_bframes.flv"
    ))
    .unwrap();
    let (listener, url) = listen("/live/room3");
    let location = format!("location={url}");
    // Decode the video and count frames; the sink prints one line per buffer with -v.
    let pipeline = format!(
        "rtmp2src {location} ! flvdemux name=d d.video ! queue ! h264parse ! avdec_h264 \
         ! fakesink name=v silent=false d.audio ! queue ! fakesink"
    );
    let mut args = vec!["-v", "-e"];
    args.extend(pipeline.split_whitespace());
    let mut gst = rtmp_support::spawn_with_stdout("gst-launch-1.0", &args);
    let mut stream = accept(&listener, &mut gst);
    let mut session = new_session();
    let played = serve_flv(&mut stream, &mut session, &flv);
    let (status, stdout) = gst.wait_exit_stdout(Duration::from_secs(30));
    assert!(status.success(), "gst-launch failed: {status} {stdout}");
    assert_eq!(played.as_deref(), Some("room3"));
    let frames = stdout
        .lines()
        .filter(|l| l.contains("/GstFakeSink:v: last-message = chain"))
        .count();
    assert!(frames >= 15, "decoded {frames} video frames:\n{stdout}");
}
