//! Percentiles and the plain-text table.
//!
//! Columns have fixed widths so rows printed by separate runs (onair, then nginx-rtmp)
//! line up when put under one header.

/// One row of the table; `None` prints as `-`.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Label of the server under test.
    pub target: String,
    /// Viewer protocol.
    pub proto: String,
    /// Viewers that received ≥ 90 % of the stream rate.
    pub ok: usize,
    /// The others.
    pub failed: usize,
    /// Wire bytes received by all viewers over the window, Mbit/s.
    pub delivered_mbps: f64,
    /// Slowest viewer's media rate, Mbit/s.
    pub viewer_min_mbps: f64,
    /// Median viewer media rate, Mbit/s.
    pub viewer_p50_mbps: f64,
    /// Time to first key frame, ms.
    pub ttff_p50: Option<f64>,
    /// Time to first key frame, ms.
    pub ttff_p99: Option<f64>,
    /// Lag behind the publisher's clock, ms.
    pub lag_p50: Option<f64>,
    /// Lag behind the publisher's clock, ms.
    pub lag_p99: Option<f64>,
    /// Server CPU over the window, % of one core.
    pub cpu_pct: Option<f64>,
    /// Server CPU seconds per delivered Gbit (wire).
    pub cpu_s_per_gbit: Option<f64>,
    /// Server RSS at the end of the window, MiB.
    pub rss_mib: Option<f64>,
    /// (RSS at the end − RSS before the viewers) / viewers, KiB.
    pub rss_per_viewer_kib: Option<f64>,
}

const COLUMNS: [(&str, usize); 11] = [
    ("target", 12),
    ("proto", 8),
    ("viewers ok/failed", 17),
    ("delivered Mbit/s", 16),
    ("per-viewer Mbit/s min / p50", 27),
    ("TTFF ms p50 / p99", 17),
    ("lag ms p50 / p99", 16),
    ("server CPU %", 12),
    ("CPU-s per Gbit", 14),
    ("RSS MiB", 7),
    ("RSS/viewer KiB", 14),
];

/// Nearest-rank percentile of unsorted samples; `None` when there are none.
pub fn percentile(samples: &mut [f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples.get(rank.clamp(1, samples.len()) - 1).copied()
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

fn pair(a: Option<f64>, b: Option<f64>, decimals: usize) -> String {
    format!("{} / {}", opt(a, decimals), opt(b, decimals))
}

fn line(cells: &[String]) -> String {
    let padded: Vec<String> = cells
        .iter()
        .zip(COLUMNS)
        .map(|(cell, (_, width))| format!("{cell:<width$}"))
        .collect();
    padded.join(" | ").trim_end().to_string()
}

/// The header and the rule under it.
pub fn header() -> String {
    let names: Vec<String> = COLUMNS
        .iter()
        .map(|(name, _)| (*name).to_string())
        .collect();
    let rule: Vec<String> = COLUMNS
        .iter()
        .map(|(_, width)| "-".repeat(*width))
        .collect();
    format!("{}\n{}", line(&names), rule.join("-+-"))
}

impl Row {
    /// The row as one table line.
    pub fn render(&self) -> String {
        line(&[
            self.target.clone(),
            self.proto.clone(),
            format!("{}/{}", self.ok, self.failed),
            format!("{:.1}", self.delivered_mbps),
            format!("{:.2} / {:.2}", self.viewer_min_mbps, self.viewer_p50_mbps),
            pair(self.ttff_p50, self.ttff_p99, 0),
            pair(self.lag_p50, self.lag_p99, 0),
            opt(self.cpu_pct, 1),
            opt(self.cpu_s_per_gbit, 3),
            opt(self.rss_mib, 1),
            opt(self.rss_per_viewer_kib, 1),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).rev().collect();
        assert_eq!(percentile(&mut v, 50.0), Some(50.0));
        assert_eq!(percentile(&mut v, 99.0), Some(99.0));
        assert_eq!(percentile(&mut v, 100.0), Some(100.0));
        assert_eq!(percentile(&mut [7.0], 1.0), Some(7.0));
        assert_eq!(percentile(&mut [], 50.0), None);
    }

    #[test]
    fn rows_line_up_with_the_header() {
        let header = header();
        let row = Row {
            target: "onair".into(),
            proto: "http-flv".into(),
            ..Default::default()
        }
        .render();
        let first = header.lines().next().unwrap();
        let bars = |s: &str| s.match_indices(" | ").map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(bars(first), bars(&row));
    }
}
