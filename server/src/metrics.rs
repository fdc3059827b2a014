//! Server-wide counters, rendered as Prometheus text at `/metrics`.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Metrics {
    pub connections: AtomicU64,
    pub connections_total: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub streams: AtomicU64,
    pub viewers: AtomicU64,
    pub skipped_frames: AtomicU64,
    pub slow_viewers_disconnected: AtomicU64,
    pub refused_publishes: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub refused_connections: AtomicU64,
    pub unusable_packets: AtomicU64,
}

impl Metrics {
    /// A connection's lifetime in the gauges; decremented when the guard drops.
    pub fn connection(&self) -> ConnectionGuard<'_> {
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(self)
    }

    pub fn render(&self) -> String {
        let rows: [(&str, &str, &str, &AtomicU64); 12] = [
            (
                "onair_connections",
                "gauge",
                "Open RTMP/HTTP media connections.",
                &self.connections,
            ),
            (
                "onair_connections_total",
                "counter",
                "Media connections accepted.",
                &self.connections_total,
            ),
            (
                "onair_bytes_in_total",
                "counter",
                "Media payload bytes received from publishers.",
                &self.bytes_in,
            ),
            (
                "onair_bytes_out_total",
                "counter",
                "Bytes sent to viewers.",
                &self.bytes_out,
            ),
            (
                "onair_streams",
                "gauge",
                "Live streams (including those in their republish grace).",
                &self.streams,
            ),
            (
                "onair_viewers",
                "gauge",
                "Connected viewers, all protocols.",
                &self.viewers,
            ),
            (
                "onair_skipped_frames_total",
                "counter",
                "Frames (or whole batches, for a viewer that fell off the ring) slow viewers skipped.",
                &self.skipped_frames,
            ),
            (
                "onair_slow_viewers_disconnected_total",
                "counter",
                "Viewers disconnected for staying behind.",
                &self.slow_viewers_disconnected,
            ),
            (
                "onair_refused_publishes_total",
                "counter",
                "Publish attempts refused (key, duplicate).",
                &self.refused_publishes,
            ),
            (
                "onair_rejected_connections_total",
                "counter",
                "Connections closed for protocol errors.",
                &self.rejected_connections,
            ),
            (
                "onair_refused_connections_total",
                "counter",
                "Connections closed at accept: over max_connections or max_connections_per_ip.",
                &self.refused_connections,
            ),
            (
                "onair_unusable_packets_total",
                "counter",
                "Publisher packets dropped because their codec header or configuration could not be used.",
                &self.unusable_packets,
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}

pub struct ConnectionGuard<'a>(&'a Metrics);

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
