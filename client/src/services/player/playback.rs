//! The `<video>` side of the player, whatever the transport: the `MediaSource` the MSE
//! transports feed, starting playback, and keeping the latency near its target.

use std::collections::VecDeque;
use std::rc::Rc;

use onair_shared::remux::ClockStamp;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlVideoElement;

use super::latency::{self, Action, Controller, Position};
use super::mse::{self, Mse};
use super::stats::Stats;
use super::transport::Media;

/// The video element, its `MediaSource` and the latency controller.
pub struct Playback {
    pub video: HtmlVideoElement,
    controller: Controller,
    mse: Option<Mse>,
    /// `sourceopen` and `updateend` handlers; they call back into the lifecycle, which owns
    /// this `Playback` (they hold only a `Weak` to it).
    on_open: Closure<dyn FnMut()>,
    on_update_end: Closure<dyn FnMut()>,
    /// The browser refused to autoplay with sound (muted playback has started instead).
    on_muted: Rc<dyn Fn()>,
    /// Playback was started on this `MediaSource`.
    started: bool,
    /// Recent capture stamps, oldest first.
    clocks: VecDeque<ClockStamp>,
}

impl Playback {
    pub fn new(
        video: HtmlVideoElement,
        target_latency: f64,
        on_open: Closure<dyn FnMut()>,
        on_update_end: Closure<dyn FnMut()>,
        on_muted: Rc<dyn Fn()>,
    ) -> Self {
        Self {
            video,
            controller: Controller::new(target_latency),
            mse: None,
            on_open,
            on_update_end,
            on_muted,
            started: false,
            clocks: VecDeque::new(),
        }
    }

    /// Forgets the previous connection's media: a new connection starts afresh.
    pub fn reset(&mut self) {
        self.detach();
        self.started = false;
        self.clocks.clear();
    }

    /// A new `MediaSource` on the video, for an MSE transport.
    pub fn attach(&mut self) -> Result<(), String> {
        if let Some(old) = self.mse.take() {
            old.detach(&self.video);
        }
        self.started = false;
        self.mse = Some(Mse::attach(
            &self.video,
            self.on_open.as_ref().unchecked_ref(),
        )?);
        Ok(())
    }

    /// Releases the `MediaSource` and its object URL.
    pub fn detach(&mut self) {
        if let Some(mse) = self.mse.take() {
            mse.detach(&self.video);
        }
    }

    /// Marks the end of the stream: what is buffered plays out, then the video ends.
    pub fn end(&self) {
        if let Some(mse) = &self.mse {
            mse.end();
        }
    }

    /// Takes one piece of a transport's media.
    pub fn apply(&mut self, media: Media) -> Result<(), String> {
        match media {
            Media::Init {
                mime,
                data,
                new_source,
            } => {
                if new_source {
                    self.attach()?;
                }
                let on_update_end = self.on_update_end.as_ref().unchecked_ref();
                if let Some(mse) = &mut self.mse {
                    mse.init(&mime, data, on_update_end)?;
                }
            }
            Media::Segment { data, .. } => {
                if let Some(mse) = &mut self.mse {
                    mse.append(data);
                }
            }
            Media::Clock(stamp) => {
                if self.clocks.len() >= 64 {
                    self.clocks.pop_front();
                }
                self.clocks.push_back(stamp);
            }
        }
        Ok(())
    }

    /// Starts the next queued append; fails when MSE has fallen hopelessly behind.
    pub fn pump(&mut self) -> Result<(), String> {
        let Some(mse) = &mut self.mse else {
            return Ok(());
        };
        mse.pump()?;
        if mse.queued_bytes() > mse::MAX_QUEUED_BYTES {
            return Err("the browser is not keeping up with the stream".into());
        }
        Ok(())
    }

    /// `sourceopen`: the `SourceBuffer` can be created now.
    pub fn source_open(&mut self) -> Result<(), String> {
        let on_update_end = self.on_update_end.as_ref().unchecked_ref();
        match &mut self.mse {
            Some(mse) => mse.open(on_update_end),
            None => Ok(()),
        }
    }

    /// `updateend`: the next append, and playback may start now that media is buffered.
    pub fn update_end(&mut self) -> Result<(), String> {
        if let Some(mse) = &mut self.mse {
            mse.pump()?;
        }
        if !self.started {
            self.control();
        }
        Ok(())
    }

    /// Starts playback once there is media, then keeps latency near the target.
    pub fn control(&mut self) {
        let Some((start, end)) = mse::buffered(&self.video) else {
            return;
        };
        let position = Position {
            current: self.video.current_time(),
            buffered_start: start,
            buffered_end: end,
            glass_to_glass: self.glass_to_glass().map(|ms| ms / 1000.0),
        };
        if !self.started {
            self.started = true;
            // Start on the keyframe the buffer begins with and catch up by rate: seeking
            // into the GOP makes the browser decode and drop the frames before the target.
            let goal = self.controller.buffer_goal(&position);
            let at = if end - start > goal + latency::JUMP_AFTER {
                end - goal
            } else {
                start
            };
            self.video.set_current_time(at);
            self.play();
            return;
        }
        if self.video.paused() && !self.video.ended() {
            self.play();
        }
        if let Some(next) = mse::gap_target(&self.video) {
            // Stalled in a hole: the decoder would wait there forever.
            self.video.set_current_time(next + 0.01);
            return;
        }
        match self.controller.decide(&position) {
            Action::Rate(rate) => {
                if (self.video.playback_rate() - rate).abs() > 0.01 {
                    self.video.set_playback_rate(rate);
                }
            }
            Action::Seek(to) => self.video.set_current_time(to),
        }
        if let Some((from, to)) = self.controller.trim(&position)
            && let Some(mse) = &mut self.mse
        {
            mse.remove(from, to);
            let _ = mse.pump();
        }
    }

    /// `play()`; when the browser demands a gesture first, `on_muted` hears of it (and
    /// decides to play muted, see [`Self::play_muted`]).
    pub fn play(&self) {
        let Ok(promise) = self.video.play() else {
            return;
        };
        let on_muted = self.on_muted.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let Err(e) = JsFuture::from(promise).await else {
                return;
            };
            let name = js_sys::Reflect::get(&e, &"name".into())
                .ok()
                .and_then(|n| n.as_string());
            if name.as_deref() == Some("NotAllowedError") {
                on_muted();
            }
        });
    }

    /// Plays without sound, which browsers allow without a gesture.
    pub fn play_muted(&self) {
        self.video.set_muted(true);
        if let Ok(p) = self.video.play() {
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(p).await;
            });
        }
    }

    /// Capture-to-display latency (ms) of the frame on screen, from the newest stamp at
    /// or before the play head.
    fn glass_to_glass(&self) -> Option<f64> {
        let current = self.video.current_time();
        let stamp = self
            .clocks
            .iter()
            .rev()
            .find(|c| c.media_time <= current + 0.001)?;
        let since = current - stamp.media_time;
        (since < 10.0).then(|| js_sys::Date::now() - (stamp.wallclock_ms + since * 1000.0))
    }

    /// The video's numbers into `s`.
    pub fn fill_stats(&self, s: &mut Stats) {
        let quality = self.video.get_video_playback_quality();
        let current = self.video.current_time();
        let buffer = mse::buffered(&self.video).map_or(0.0, |(_, end)| (end - current).max(0.0));
        s.buffer = buffer;
        s.latency = buffer;
        s.g2g_ms = self.glass_to_glass();
        s.width = self.video.video_width();
        s.height = self.video.video_height();
        s.total_frames = quality.total_video_frames();
        s.dropped_frames = quality.dropped_video_frames();
        s.current_time = current;
        s.rate = self.video.playback_rate();
        s.target = self.controller.target;
        s.queued_bytes = self.mse.as_ref().map_or(0, Mse::queued_bytes) as u32;
    }
}
