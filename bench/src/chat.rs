//! `onair-bench chat`: chat fan-out. M members join one room's chat WebSocket, together
//! send R comments/s and L likes/s (spread over all members, each well under the server's
//! per-connection limits), and the bench prints one table row: members ok/failed, the
//! rates actually sent, messages/s delivered to all members, comment delivery latency
//! p50/p99/max (measured by the recorders, see [`chat_member`](crate::chat_member)),
//! likes sent vs reported by the server's coalesced `likes` ticks, and the server's CPU
//! and RSS from `/proc`.

use crate::viewer::worker_runtime;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use crate::chat_member::{self, Kinds, Outcome, Plan};
use crate::procstat::{self, Sample};
use crate::report::percentile;
use crate::{parse_duration, sleep_until};

/// The server's limits (server/src/rooms/chat.rs): 5 comments per 10 s and 10 likes per
/// 200 ms tick per connection. The bench stays at 80 % and 50 % of them.
const MAX_COMMENTS_PER_MEMBER: f64 = 0.4;
const MAX_LIKES_PER_MEMBER: f64 = 25.0;

#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// The server's HTTP address, e.g. http://127.0.0.1:8080
    #[arg(long, value_name = "URL")]
    server: String,
    /// Use this room instead of creating one with `POST /api/rooms`
    #[arg(long, value_name = "ID")]
    room: Option<String>,
    /// The server's admin token (its `ONAIR_ADMIN_TOKEN`): the bench makes a streamer with
    /// it to create its room
    #[arg(
        long,
        env = "ONAIR_ADMIN_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    admin_token: Option<String>,
    /// Members in the room
    #[arg(long, default_value_t = 2000)]
    members: usize,
    /// Comments per second, all members together
    #[arg(long, default_value_t = 200.0)]
    comments: f64,
    /// Likes per second, all members together (one like per message)
    #[arg(long, default_value_t = 2000.0)]
    likes: f64,
    /// How long comments and likes are sent, after everybody joined (e.g. 20s)
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Member connects are spread evenly over this span (every join sends `viewers` to
    /// every member, so M joins cost ~M²/2 messages: 2000 in 4 s overruns the server)
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    join_within: Duration,
    /// Sending starts this long after the last member started joining
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    settle: Duration,
    /// Members stay this long after the last send, for the last comments and like ticks
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    drain: Duration,
    /// Members that parse every message and record comment latencies (spread evenly)
    #[arg(long, default_value_t = 200)]
    recorders: usize,
    /// Server process to measure (repeatable); its descendants are included
    #[arg(long = "server-pid", value_name = "PID")]
    server_pids: Vec<u32>,
    /// Name of the server under test, for the table
    #[arg(long, default_value = "server")]
    label: String,
    /// Runtime threads for the members (1 = a current-thread runtime). With one, a comment
    /// wakes every member on one thread and the bench's own delay shows in the latency
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Allow non-loopback server addresses (never on shared machines)
    #[arg(long)]
    allow_remote: bool,
}

/// One `Connection: close` HTTP/1.1 request → (status line, headers, body).
fn http(
    addr: SocketAddr,
    authority: &str,
    request: &str,
    headers: &str,
    body: &str,
) -> anyhow::Result<(String, String, String)> {
    let mut s = TcpStream::connect(addr).map_err(crate::connect_error)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{request} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n{headers}\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow!("{request}: no HTTP response"))?;
    let (status, head) = head.split_once("\r\n").unwrap_or((head, ""));
    Ok((status.to_string(), head.to_string(), body.to_string()))
}

/// The JSON object of a response body (which may be chunked).
fn json_of(what: &str, body: &str) -> anyhow::Result<serde_json::Value> {
    let json = body
        .find('{')
        .zip(body.rfind('}'))
        .and_then(|(a, b)| body.get(a..=b))
        .ok_or_else(|| anyhow!("{what}: no JSON in {body:?}"))?;
    serde_json::from_str(json).with_context(|| what.to_string())
}

/// A streamer's session cookie: the user `bench-chat` made with the admin token
/// (`POST /api/users`), then signed in (`POST /api/session`).
fn streamer_cookie(addr: SocketAddr, authority: &str, admin_token: &str) -> anyhow::Result<String> {
    let password = format!(
        "bench-{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let user =
        serde_json::json!({ "name": "bench-chat", "password": password, "role": "streamer" })
            .to_string();
    let bearer = format!("Authorization: Bearer {admin_token}\r\n");
    let (status, _, body) = http(addr, authority, "POST /api/users", &bearer, &user)?;
    if !status.contains(" 201") {
        bail!("POST /api/users: {status}: {}", body.trim());
    }
    let credentials = serde_json::json!({ "name": "bench-chat", "password": password }).to_string();
    let (status, head, body) = http(addr, authority, "POST /api/session", "", &credentials)?;
    if !status.contains(" 200") {
        bail!("POST /api/session: {status}: {}", body.trim());
    }
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .filter_map(|(_, value)| value.trim().split(';').next())
        .find(|c| c.starts_with("onair_session="))
        .map(str::to_string)
        .ok_or_else(|| anyhow!("POST /api/session: no onair_session cookie"))
}

/// `POST /api/rooms {"title": …}` as a signed-in streamer → the new room's id.
fn create_room(addr: SocketAddr, authority: &str, admin_token: &str) -> anyhow::Result<String> {
    let cookie = streamer_cookie(addr, authority, admin_token)?;
    let body = r#"{"title":"onair-bench chat"}"#;
    let headers = format!("Cookie: {cookie}\r\n");
    let (status, _, body) = http(addr, authority, "POST /api/rooms", &headers, body)?;
    if !status.contains(" 201") {
        bail!("POST /api/rooms: {status}: {}", body.trim());
    }
    let v = json_of("POST /api/rooms", &body)?;
    v.get("id")
        .and_then(|id| id.as_str())
        .map(str::to_string)
        .ok_or_else(|| anyhow!("POST /api/rooms: no id in {v}"))
}

/// A server / bench / machine CPU snapshot.
#[derive(Debug, Clone, Copy)]
struct Snap {
    at: Instant,
    server: Sample,
    bench_cpu_s: f64,
    machine_busy_s: f64,
    softirq_s: f64,
}

/// Softirq CPU seconds of the whole machine (loopback TCP work is largely done there and
/// charged to no process), from `/proc/stat`.
fn softirq_s(tck: f64) -> f64 {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with("cpu ")).unwrap_or("");
    // user nice system idle iowait irq softirq …
    line.split_whitespace()
        .nth(7)
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |t| t / tck)
}

/// CPU % (of one core) from `a` to `b`: (server, bench, machine softirq, other processes).
fn cpu_between(a: &Snap, b: &Snap) -> (f64, f64, f64, f64) {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-3);
    let pct = |x: f64, y: f64| 100.0 * (y - x) / secs;
    let server = pct(a.server.cpu_s, b.server.cpu_s);
    let bench = pct(a.bench_cpu_s, b.bench_cpu_s);
    let softirq = pct(a.softirq_s, b.softirq_s);
    let busy = pct(a.machine_busy_s, b.machine_busy_s);
    // A process's system time includes the softirqs that ran while it was current, so
    // softirq overlaps the server and the bench: it is shown, not subtracted.
    (server, bench, softirq, (busy - server - bench).max(0.0))
}

fn snap(roots: &[u32], tck: f64) -> Snap {
    Snap {
        at: Instant::now(),
        server: procstat::sample(roots, tck),
        bench_cpu_s: procstat::self_cpu_s(tck),
        machine_busy_s: procstat::machine_busy_s(tck),
        softirq_s: softirq_s(tck),
    }
}

pub fn run(args: ChatArgs) -> anyhow::Result<()> {
    let m = args.members;
    if m == 0 {
        bail!("--members must be at least 1");
    }
    if args.comments < 0.0 || args.likes < 0.0 {
        bail!("--comments and --likes are rates, ≥ 0");
    }
    if args.comments / m as f64 > MAX_COMMENTS_PER_MEMBER {
        bail!(
            "{} comments/s over {m} members is more than {MAX_COMMENTS_PER_MEMBER}/s each \
             (the server allows 5 per 10 s): use at least {} members",
            args.comments,
            (args.comments / MAX_COMMENTS_PER_MEMBER).ceil()
        );
    }
    if args.likes / m as f64 > MAX_LIKES_PER_MEMBER {
        bail!(
            "{} likes/s over {m} members is more than {MAX_LIKES_PER_MEMBER}/s each \
             (the server takes 10 per 200 ms): use at least {} members",
            args.likes,
            (args.likes / MAX_LIKES_PER_MEMBER).ceil()
        );
    }
    if let Some(limit) = procstat::open_files_limit()
        && limit < m as u64 + 64
    {
        bail!(
            "the open-file limit is {limit}, {m} members need about {}: run `ulimit -n 65536` first",
            m + 64
        );
    }
    let (addr, authority, _) = crate::http_like(&args.server, "http://", args.allow_remote)?;
    let room = match &args.room {
        Some(id) => id.clone(),
        None => {
            let token = args.admin_token.as_deref().ok_or_else(|| {
                anyhow!("creating a room needs a streamer: pass --admin-token (or --room ID)")
            })?;
            create_room(addr, &authority, token)?
        }
    };
    let tck = procstat::clk_tck();
    let roots = args.server_pids.clone();
    let baseline = procstat::sample(&roots, tck);

    let start = Instant::now();
    let join_start = start + Duration::from_millis(200);
    let send_start = join_start + args.join_within + args.settle;
    let send_end = send_start + args.duration;
    let plan = Arc::new(Plan {
        addr,
        url: format!("ws://{authority}/api/rooms/{room}/chat"),
        members: m,
        comments: args.comments,
        likes: args.likes,
        start,
        join_start,
        join_step: args.join_within / m as u32,
        send_start,
        send_end,
        end: send_end + args.drain,
        record_every: (m / args.recorders.clamp(1, m)).max(1),
    });
    let joining = snap(&roots, tck);
    let members = spawn_members(plan.clone(), args.threads)?;

    sleep_until(send_start);
    let s0 = snap(&roots, tck);
    let mut peak_rss = s0.server.rss_kib;
    let mut seconds = vec![s0];
    while Instant::now() + Duration::from_millis(1100) < send_end {
        sleep_until(seconds[seconds.len() - 1].at + Duration::from_secs(1));
        let s = snap(&roots, tck);
        peak_rss = peak_rss.max(s.server.rss_kib);
        seconds.push(s);
    }
    sleep_until(send_end);
    let s1 = snap(&roots, tck);
    peak_rss = peak_rss.max(s1.server.rss_kib);
    let outcomes = members
        .join()
        .map_err(|_| anyhow!("the members' thread panicked"))??;
    let summary = Summary {
        args: &args,
        room: &room,
        plan: &plan,
        roots: &roots,
        baseline,
        joining,
        s0,
        s1,
        peak_rss,
        seconds,
        outcomes,
    };
    summary.print();
    Ok(())
}

fn spawn_members(
    plan: Arc<Plan>,
    threads: usize,
) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<Vec<Outcome>>>> {
    let handle = std::thread::Builder::new()
        .name("members".into())
        .spawn(move || {
            let rt = worker_runtime(threads)?;
            rt.block_on(async move {
                let tasks: Vec<_> = (0..plan.members)
                    .map(|i| tokio::spawn(chat_member::run(i, plan.clone())))
                    .collect();
                let mut outcomes = Vec::with_capacity(tasks.len());
                for task in tasks {
                    outcomes.push(task.await.map_err(|e| anyhow!("member task: {e}"))?);
                }
                Ok(outcomes)
            })
        })?;
    Ok(handle)
}

const COLUMNS: [(&str, usize); 10] = [
    ("target", 10),
    ("members ok/failed", 17),
    ("comments/s sent", 15),
    ("likes/s sent", 12),
    ("delivered msg/s", 15),
    ("latency ms p50 / p99 / max", 26),
    ("likes sent / reported", 21),
    ("server CPU %", 12),
    ("RSS MiB", 7),
    ("errors", 6),
];

fn line(cells: &[String]) -> String {
    let padded: Vec<String> = cells
        .iter()
        .zip(COLUMNS)
        .map(|(cell, (_, width))| format!("{cell:<width$}"))
        .collect();
    padded.join(" | ").trim_end().to_string()
}

fn header() -> String {
    let names: Vec<String> = COLUMNS.iter().map(|(n, _)| (*n).to_string()).collect();
    let rule: Vec<String> = COLUMNS.iter().map(|(_, w)| "-".repeat(*w)).collect();
    format!("{}\n{}", line(&names), rule.join("-+-"))
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

/// Counts of equal strings, most frequent first: `["3 × a", "1 × b"]`.
fn tally<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for item in items {
        match counts.iter_mut().find(|(k, _)| *k == item) {
            Some((_, n)) => *n += 1,
            None => counts.push((item, 1)),
        }
    }
    counts.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    counts.iter().map(|(k, n)| format!("{n} × {k}")).collect()
}

struct Summary<'a> {
    args: &'a ChatArgs,
    room: &'a str,
    plan: &'a Plan,
    roots: &'a [u32],
    baseline: Sample,
    /// Before the first member connects.
    joining: Snap,
    s0: Snap,
    s1: Snap,
    peak_rss: u64,
    /// Snapshots about every second while sending, from `s0`.
    seconds: Vec<Snap>,
    outcomes: Vec<Outcome>,
}

impl Summary<'_> {
    fn print(&self) {
        let o = &self.outcomes;
        let window = self.s1.at.duration_since(self.s0.at).as_secs_f64();
        let ok = o.iter().filter(|x| x.joined && x.error.is_none()).count();
        let comments_sent: u64 = o.iter().map(|x| x.comments_sent).sum();
        let likes_sent: u64 = o.iter().map(|x| x.likes_sent).sum();
        let send_s = self.args.duration.as_secs_f64();
        let mut in_window = Kinds::default();
        let mut all = Kinds::default();
        for x in o {
            in_window.add(&x.in_window);
            all.add(&x.all);
        }
        let recorders: Vec<&Outcome> = o.iter().filter(|x| x.recorder).collect();
        let healthy: Vec<&&Outcome> = recorders
            .iter()
            .filter(|x| x.joined && x.error.is_none())
            .collect();
        let mut lat: Vec<f64> = recorders
            .iter()
            .flat_map(|x| x.latencies_ms.iter().copied())
            .collect();
        let samples = lat.len();
        let (p50, p99, max) = (
            percentile(&mut lat, 50.0),
            percentile(&mut lat, 99.0),
            percentile(&mut lat, 100.0),
        );
        // Likes: the server's deltas as one healthy recorder saw them.
        let reported = healthy.iter().map(|x| x.likes_delta).max();
        let errors: Vec<&str> = o
            .iter()
            .flat_map(|x| x.errors.iter().map(String::as_str))
            .collect();
        let cpu = (!self.roots.is_empty())
            .then(|| 100.0 * (self.s1.server.cpu_s - self.s0.server.cpu_s) / window);
        let rss = |kib: u64| kib as f64 / 1024.0;
        let row = line(&[
            self.args.label.clone(),
            format!("{ok}/{}", o.len() - ok),
            format!("{:.1}", comments_sent as f64 / send_s),
            format!("{:.1}", likes_sent as f64 / send_s),
            format!("{:.0}", in_window.total() as f64 / window),
            format!("{} / {} / {}", ms(p50), ms(p99), ms(max)),
            format!(
                "{likes_sent} / {}",
                reported.map_or_else(|| "-".into(), |r| r.to_string())
            ),
            cpu.map_or_else(|| "-".into(), |c| format!("{c:.1}")),
            if self.roots.is_empty() {
                "-".into()
            } else {
                format!("{:.1}", rss(self.s1.server.rss_kib))
            },
            errors.len().to_string(),
        ]);
        println!("{}", header());
        println!("{row}");
        println!();
        let p = self.plan;
        println!(
            "  room {}: {} members joining over {:?}, sending for {:?} from {:.1} s, window {:.1} s, drain {:?}",
            self.room,
            p.members,
            self.args.join_within,
            self.args.duration,
            p.send_start.duration_since(p.start).as_secs_f64(),
            window,
            self.args.drain,
        );
        let mut join: Vec<f64> = o.iter().filter_map(|x| x.join_ms).collect();
        println!(
            "  join (connect → welcome) ms p50 / p99 / max: {} / {} / {}",
            ms(percentile(&mut join, 50.0)),
            ms(percentile(&mut join, 99.0)),
            ms(percentile(&mut join, 100.0)),
        );
        let mut late: Vec<f64> = o
            .iter()
            .flat_map(|x| x.send_late_ms.iter().copied())
            .collect();
        println!(
            "  bench lateness (comment sent − its slot) ms p50 / p99 / max: {} / {} / {}",
            ms(percentile(&mut late, 50.0)),
            ms(percentile(&mut late, 99.0)),
            ms(percentile(&mut late, 100.0)),
        );
        let expected = comments_sent * healthy.len() as u64;
        let got: u64 = healthy.iter().map(|x| x.latencies_ms.len() as u64).sum();
        println!(
            "  latency: {} recorders (every {}th member), {} of them healthy, {samples} samples; \
             healthy recorders got {got} of {expected} comments sent ({:.2} %)",
            recorders.len(),
            p.record_every,
            healthy.len(),
            if expected == 0 {
                0.0
            } else {
                100.0 * got as f64 / expected as f64
            },
        );
        println!(
            "  delivered in the window (all members), msg/s: comment {:.0}, likes {:.0}, viewers {:.0}, other {:.0}",
            in_window.comment as f64 / window,
            in_window.likes as f64 / window,
            in_window.viewers as f64 / window,
            in_window.other as f64 / window,
        );
        println!(
            "  delivered over the whole run: {} messages ({} comment, {} likes, {} viewers, {} other)",
            all.total(),
            all.comment,
            all.likes,
            all.viewers,
            all.other
        );
        let totals: Vec<u64> = healthy.iter().filter_map(|x| x.likes_total).collect();
        println!(
            "  likes: {likes_sent} sent (1 per message); sum of likes.delta after the first send \
             {}; last likes.total {}",
            reported.map_or_else(|| "-".into(), |r| r.to_string()),
            totals
                .iter()
                .max()
                .map_or_else(|| "-".into(), |t| t.to_string()),
        );
        if !self.roots.is_empty() {
            println!(
                "  server RSS MiB: before members {:.1}, at first send {:.1}, end {:.1}, peak {:.1}",
                rss(self.baseline.rss_kib),
                rss(self.s0.server.rss_kib),
                rss(self.s1.server.rss_kib),
                rss(self.peak_rss),
            );
        }
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        let before: u64 = o.iter().map(|x| x.before).sum();
        for (what, a, b, msgs) in [
            ("joining", &self.joining, &self.s0, before),
            ("sending", &self.s0, &self.s1, in_window.total()),
        ] {
            let (server, bench, softirq, other) = cpu_between(a, b);
            let secs = b.at.duration_since(a.at).as_secs_f64();
            let per_msg = |pct: f64| pct / 100.0 * secs * 1e6 / msgs.max(1) as f64;
            println!(
                "  while {what} ({secs:.1} s, {msgs} messages delivered): CPU % server {server:.1}, \
                 bench {bench:.1} ({} member thread(s)), other processes {other:.1}, machine softirq {softirq:.1} (partly inside those) \
                 (100 % = one core; {cores} cores); CPU µs per delivered message: server {:.1}, bench {:.1}",
                self.args.threads,
                per_msg(server),
                per_msg(bench),
            );
        }
        let per_second: Vec<String> = self
            .seconds
            .windows(2)
            .map(|w| {
                let (server, bench, _, other) = cpu_between(&w[0], &w[1]);
                format!("{server:.0}/{bench:.0}/{other:.0}")
            })
            .collect();
        println!(
            "  CPU % each second of sending, server/bench/other: {}",
            per_second.join(" ")
        );
        for line in tally(errors.iter().copied()) {
            println!("  server errors: {line}");
        }
        for line in tally(o.iter().filter_map(|x| x.error.as_deref())) {
            println!("  failed: {line}");
        }
        let mut failed_at: Vec<f64> = o.iter().filter_map(|x| x.failed_at_s).collect();
        if !failed_at.is_empty() {
            println!(
                "  failures at s since start (sending from {:.1} s) first / p50 / last: {} / {} / {}",
                p.send_start.duration_since(p.start).as_secs_f64(),
                ms(percentile(&mut failed_at, 0.0)),
                ms(percentile(&mut failed_at, 50.0)),
                ms(percentile(&mut failed_at, 100.0)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lines_up_and_tallies() {
        let h = header();
        let first = h.lines().next().unwrap();
        assert!(first.starts_with("target "));
        let row = line(&vec!["x".to_string(); COLUMNS.len()]);
        let bars = |s: &str| s.match_indices(" | ").map(|(i, _)| i).collect::<Vec<_>>();
        assert_eq!(bars(first), bars(&row));
        assert_eq!(
            tally(["a", "b", "b"].into_iter()),
            vec!["2 × b".to_string(), "1 × a".to_string()]
        );
    }
}
