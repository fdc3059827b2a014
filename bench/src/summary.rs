//! The run's measurements: counter snapshots at the edges of the steady window, and the
//! summary computed from them (the table row and the notes under it).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::pusher::PushStats;
use crate::report::{self, Row, percentile};
use crate::viewer::{Counters, Outcome, PlayTarget};
use crate::{FanoutArgs, procstat};

/// Counters at one instant.
pub struct Snapshot {
    pub at: Instant,
    pub server: procstat::Sample,
    pub bench_cpu_s: f64,
    pub machine_busy_s: f64,
    pub pushed_media: u64,
    pub wire: Vec<u64>,
    pub media: Vec<u64>,
}

/// Reads every counter now.
pub fn snapshot(roots: &[u32], tck: f64, push: &PushStats, counters: &[Counters]) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        server: procstat::sample(roots, tck),
        bench_cpu_s: procstat::self_cpu_s(tck),
        machine_busy_s: procstat::machine_busy_s(tck),
        pushed_media: push.media_bytes.load(Ordering::Relaxed),
        wire: counters
            .iter()
            .map(|c| c.wire.load(Ordering::Relaxed))
            .collect(),
        media: counters
            .iter()
            .map(|c| c.media.load(Ordering::Relaxed))
            .collect(),
    }
}

/// Everything the row and the notes are computed from.
pub struct Summary<'a> {
    pub args: &'a FanoutArgs,
    pub play: &'a PlayTarget,
    pub roots: &'a [u32],
    pub baseline: procstat::Sample,
    pub s0: Snapshot,
    pub s1: Snapshot,
    pub peak_rss: u64,
    pub outcomes: Vec<Outcome>,
    pub media_bps: f64,
    pub push_late_ms: f64,
    pub push_error: Option<String>,
    pub join_start: Instant,
}

impl Summary<'_> {
    /// Prints the table (header + row) and the notes.
    pub fn print(&self) {
        let (s0, s1) = (&self.s0, &self.s1);
        let n = self.outcomes.len();
        let secs = s1.at.duration_since(s0.at).as_secs_f64().max(1e-3);
        let stream_bps = (s1.pushed_media - s0.pushed_media) as f64 * 8.0 / secs;
        let rates: Vec<f64> = (0..n)
            .map(|i| {
                let got = s1.media.get(i).unwrap_or(&0) - s0.media.get(i).unwrap_or(&0);
                got as f64 * 8.0 / secs
            })
            .collect();
        let wire_bits: f64 = s1
            .wire
            .iter()
            .zip(&s0.wire)
            .map(|(b, a)| (b - a) as f64 * 8.0)
            .sum();
        let mut reasons: Vec<(String, usize)> = Vec::new();
        let mut ok = 0;
        for (o, rate) in self.outcomes.iter().zip(&rates) {
            let reason = match &o.error {
                Some(e) => Some(e.chars().take(100).collect::<String>()),
                None if *rate < self.args.ok_ratio * stream_bps => Some(format!(
                    "received < {:.0} % of the stream rate",
                    self.args.ok_ratio * 100.0
                )),
                None => None,
            };
            match reason {
                None => ok += 1,
                Some(r) => match reasons.iter_mut().find(|(k, _)| *k == r) {
                    Some((_, count)) => *count += 1,
                    None => reasons.push((r, 1)),
                },
            }
        }
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
        let mut ttff: Vec<f64> = self
            .outcomes
            .iter()
            .filter_map(|o| ms(o.first_key))
            .collect();
        let mut first_video: Vec<f64> = self
            .outcomes
            .iter()
            .filter_map(|o| ms(o.first_video))
            .collect();
        let mut setup: Vec<f64> = self.outcomes.iter().filter_map(|o| ms(o.setup)).collect();
        let mut lag: Vec<f64> = self
            .outcomes
            .iter()
            .flat_map(|o| o.lag_ms.iter().map(|&l| f64::from(l)))
            .collect();
        let mut sorted_rates = rates.clone();
        let measured = !self.roots.is_empty() && s1.server.processes > 0;
        let cpu_s = s1.server.cpu_s - s0.server.cpu_s;
        let row = Row {
            target: self.args.label.clone(),
            proto: self.play.proto().to_string(),
            ok,
            failed: n - ok,
            delivered_mbps: wire_bits / secs / 1e6,
            viewer_min_mbps: percentile(&mut sorted_rates, 0.0).unwrap_or(0.0) / 1e6,
            viewer_p50_mbps: percentile(&mut sorted_rates, 50.0).unwrap_or(0.0) / 1e6,
            ttff_p50: percentile(&mut ttff, 50.0),
            ttff_p99: percentile(&mut ttff, 99.0),
            lag_p50: percentile(&mut lag, 50.0),
            lag_p99: percentile(&mut lag, 99.0),
            cpu_pct: measured.then(|| cpu_s / secs * 100.0),
            cpu_s_per_gbit: (measured && wire_bits > 0.0).then(|| cpu_s / (wire_bits / 1e9)),
            rss_mib: measured.then(|| s1.server.rss_kib as f64 / 1024.0),
            rss_per_viewer_kib: measured
                .then(|| (s1.server.rss_kib as f64 - self.baseline.rss_kib as f64) / n as f64),
        };
        println!("{}", report::header());
        println!("{}", row.render());
        println!();
        let rel = |t: Instant| t.saturating_duration_since(self.join_start).as_secs_f64();
        println!(
            "  stream: {:.2} Mbit/s media pushed in the window (clip {:.2} Mbit/s) to {}",
            stream_bps / 1e6,
            self.media_bps / 1e6,
            self.args.push
        );
        println!(
            "  window: {:.1} s, from {:.1} s to {:.1} s after the first join; {n} viewers joined over {:?}",
            secs,
            rel(s0.at),
            rel(s1.at),
            self.args.join_within
        );
        println!(
            "  ms p50 / p99 from connect start to: play accepted {:.0} / {:.0}, first video tag {:.0} / {:.0}, first key frame: TTFF column; lag samples: {}",
            percentile(&mut setup, 50.0).unwrap_or(f64::NAN),
            percentile(&mut setup, 99.0).unwrap_or(f64::NAN),
            percentile(&mut first_video, 50.0).unwrap_or(f64::NAN),
            percentile(&mut first_video, 99.0).unwrap_or(f64::NAN),
            lag.len()
        );
        if measured {
            println!(
                "  server: {} process(es), RSS {:.1} MiB before the viewers, {:.1} MiB at the end, peak {:.1} MiB, CPU {:.2} s in the window",
                s1.server.processes,
                self.baseline.rss_kib as f64 / 1024.0,
                s1.server.rss_kib as f64 / 1024.0,
                self.peak_rss as f64 / 1024.0,
                cpu_s
            );
        } else {
            println!("  server: not measured (give --server-pid PID or --server-pids-of NAME)");
        }
        println!(
            "  bench itself: CPU {:.1} % of one core in the window ({} viewer thread(s)); publisher worst lateness in the window {:.1} ms",
            (s1.bench_cpu_s - s0.bench_cpu_s) / secs * 100.0,
            self.args.viewer_threads,
            self.push_late_ms
        );
        let bench_cpu = s1.bench_cpu_s - s0.bench_cpu_s;
        let others = (s1.machine_busy_s - s0.machine_busy_s)
            - bench_cpu
            - if measured { cpu_s } else { 0.0 };
        println!(
            "  machine: {} cores, load average {:.1} at the end; other processes used {:.0} % of one core in the window",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            procstat::load_average().unwrap_or(f64::NAN),
            others.max(0.0) / secs * 100.0
        );
        if let Some(e) = &self.push_error {
            println!("  PUBLISHER FAILED: {e}");
        }
        if lag.first().is_some_and(|&l| l < -50.0) {
            println!(
                "  note: negative lag: the server shifted the publisher's timestamps (a stream republished within the server's grace period keeps its old timeline): use a fresh stream name or server"
            );
        }
        for (reason, count) in &reasons {
            println!("  failed: {count} × {reason}");
        }
    }
}
