//! CPU time and resident memory of processes, from `/proc` (Linux only).
//!
//! A server is a set of root PIDs plus all their descendants (nginx: master + workers),
//! resolved again at every sample so late-started workers are counted.

use std::path::Path;
use std::process::Command;

/// CPU time and RSS summed over a set of processes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// user + system CPU, seconds.
    pub cpu_s: f64,
    /// Resident set, KiB.
    pub rss_kib: u64,
    /// Processes found.
    pub processes: usize,
}

/// Clock ticks per second for `/proc/PID/stat` times (`getconf CLK_TCK`, 100 if unknown).
pub fn clk_tck() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output();
    out.ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// (ppid, utime + stime ticks) from `/proc/PID/stat`.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    let ppid = fields.get(1)?.parse().ok()?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn all_pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// PIDs whose command name (`/proc/PID/comm`) is `name`.
pub fn pids_named(name: &str) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .collect()
}

/// `roots` and all their descendants that are alive now.
pub fn with_descendants(roots: &[u32]) -> Vec<u32> {
    let parents: Vec<(u32, u32)> = all_pids()
        .into_iter()
        .filter_map(|pid| stat(pid).map(|(ppid, _)| (pid, ppid)))
        .collect();
    let mut set: Vec<u32> = roots
        .iter()
        .copied()
        .filter(|p| Path::new(&format!("/proc/{p}")).exists())
        .collect();
    let mut i = 0;
    while let Some(&pid) = set.get(i) {
        for &(child, _) in parents.iter().filter(|(_, ppid)| *ppid == pid) {
            if !set.contains(&child) {
                set.push(child);
            }
        }
        i += 1;
    }
    set
}

/// Sums CPU and RSS over `roots` and their descendants.
pub fn sample(roots: &[u32], tck: f64) -> Sample {
    let mut s = Sample::default();
    for pid in with_descendants(roots) {
        if let Some((_, ticks)) = stat(pid) {
            s.cpu_s += ticks as f64 / tck;
            s.rss_kib += rss_kib(pid).unwrap_or(0);
            s.processes += 1;
        }
    }
    s
}

/// This process's CPU seconds (all threads).
pub fn self_cpu_s(tck: f64) -> f64 {
    stat(std::process::id()).map_or(0.0, |(_, t)| t as f64 / tck)
}

/// Busy CPU seconds of the whole machine (all cores) since boot, from `/proc/stat`.
pub fn machine_busy_s(tck: f64) -> f64 {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    let Some(line) = text.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    // user nice system idle iowait irq softirq steal …: everything but idle and iowait.
    let ticks: u64 = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    ticks as f64 / tck
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// The soft limit on open files of this process, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let s = sample(&[me], clk_tck());
        assert!(s.processes >= 1 && s.rss_kib > 0, "{s:?}");
        assert!(open_files_limit().is_some());
        assert!(machine_busy_s(clk_tck()) > 0.0);
        assert!(load_average().is_some());
        assert!(!pids_named("definitely-not-a-process-name").contains(&me));
    }
}
