//! Statistics: latency percentiles (HDR histogram, microseconds), rates, and
//! the server's resident memory read from `/proc`.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency the histograms track: 60 s, in microseconds.
const MAX_TRACKABLE_US: u64 = 60_000_000;

/// A latency histogram in microseconds, 3 significant figures.
#[derive(Debug, Clone)]
pub(crate) struct Latency(Histogram<u64>);

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty histogram tracking 1 µs .. 60 s.
    pub(crate) fn new() -> Self {
        // The bounds are constants that satisfy the constructor's checks
        // (low >= 1, high >= 2 * low, sigfig <= 5).
        match Histogram::new_with_bounds(1, MAX_TRACKABLE_US, 3) {
            Ok(h) => Self(h),
            Err(_) => unreachable!("constant histogram bounds are valid"),
        }
    }

    /// Records one duration (clamped to 1 µs .. 60 s).
    pub(crate) fn record(&mut self, d: Duration) {
        self.record_us(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one value in microseconds (clamped to 1 µs .. 60 s).
    pub(crate) fn record_us(&mut self, us: u64) {
        self.0.saturating_record(us.clamp(1, MAX_TRACKABLE_US));
    }

    /// Adds every value of `other` to this histogram.
    pub(crate) fn merge(&mut self, other: &Self) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.0.add(&other.0);
    }

    /// Number of recorded values.
    pub(crate) fn len(&self) -> u64 {
        self.0.len()
    }

    /// The summary of the recorded values.
    pub(crate) fn percentiles(&self) -> Percentiles {
        let h = &self.0;
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            min_us: h.min(),
            mean_us: (h.mean() * 10.0).round() / 10.0,
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Percentiles {
    pub(crate) count: u64,
    pub(crate) min_us: u64,
    pub(crate) mean_us: f64,
    pub(crate) p50_us: u64,
    pub(crate) p90_us: u64,
    pub(crate) p99_us: u64,
    pub(crate) p999_us: u64,
    pub(crate) max_us: u64,
}

/// `count` per second over `elapsed` (0 when nothing elapsed).
pub(crate) fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        // u64 -> f64 loses precision only above 2^53 events.
        #[allow(clippy::cast_precision_loss)]
        let c = count as f64;
        c / secs
    } else {
        0.0
    }
}

/// The `VmRSS` of a `/proc/PID/status` text, in KiB.
pub(crate) fn parse_vm_rss_kib(status: &str) -> Option<u64> {
    status_field_kib(status, "VmRSS")
}

/// A `Name:   1234 kB` field of a `/proc/PID/status` text, in KiB.
pub(crate) fn status_field_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let mut parts = rest.split_whitespace();
        let value = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") | None => Some(value),
            Some(_) => None,
        }
    })
}

/// Reads the resident memory (`VmRSS`) of process `pid`, in KiB.
pub(crate) fn read_vm_rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss_kib(&status).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("no VmRSS line in /proc/{pid}/status"),
        )
    })
}

/// The soft `Max open files` limit of a `/proc/PID/limits` text
/// (`None` for "unlimited" or when absent).
pub(crate) fn parse_max_open_files(limits: &str) -> Option<u64> {
    limits.lines().find_map(|line| {
        let rest = line.strip_prefix("Max open files")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Reads the soft open-file limit of process `pid`.
pub(crate) fn read_max_open_files(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    parse_max_open_files(&limits)
}

/// Clock ticks per second of `/proc/PID/stat` times (`USER_HZ`, fixed at
/// 100 by the Linux ABI).
const USER_HZ: f64 = 100.0;

/// User and system CPU time of a `/proc/PID/stat` text, in seconds (all
/// threads of the process).
pub(crate) fn parse_cpu_seconds(stat: &str) -> Option<CpuTimes> {
    // The command name (field 2) may contain spaces and parentheses: the
    // fields after it start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name come state (3), ppid (4), ... utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // Tick counts of a benchmark run are far below 2^53.
    #[allow(clippy::cast_precision_loss)]
    let (user, system) = (utime as f64 / USER_HZ, stime as f64 / USER_HZ);
    Some(CpuTimes { user, system })
}

/// CPU times of a process, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CpuTimes {
    pub(crate) user: f64,
    pub(crate) system: f64,
}

/// The CPU times process `pid` has used so far.
pub(crate) fn read_cpu_seconds(pid: u32) -> Option<CpuTimes> {
    parse_cpu_seconds(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Machine-wide CPU time from the first line of `/proc/stat`, in seconds:
/// (busy, idle, stolen by the hypervisor).
pub(crate) fn parse_machine_cpu(stat: &str) -> Option<MachineTimes> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice]
    let get = |i: usize| v.get(i).copied().unwrap_or(0);
    let idle = get(3) + get(4);
    let steal = get(7);
    let busy = get(0) + get(1) + get(2) + get(5) + get(6);
    #[allow(clippy::cast_precision_loss)]
    let t = |ticks: u64| ticks as f64 / USER_HZ;
    Some(MachineTimes {
        busy: t(busy),
        idle: t(idle),
        steal: t(steal),
    })
}

/// Machine-wide CPU times, in seconds summed over all cores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct MachineTimes {
    pub(crate) busy: f64,
    pub(crate) idle: f64,
    pub(crate) steal: f64,
}

fn read_machine_cpu() -> Option<MachineTimes> {
    parse_machine_cpu(&std::fs::read_to_string("/proc/stat").ok()?)
}

/// CPU time used by the server and by this process over a phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuMeter {
    server_pid: Option<u32>,
    server: Option<CpuTimes>,
    own: Option<CpuTimes>,
    machine: Option<MachineTimes>,
}

/// CPU seconds used over a phase (user + system, and system alone: the
/// kernel's share, which on loopback includes delivering the data to the
/// receiving socket).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct CpuUse {
    /// By the server process (when its pid is known).
    pub(crate) server_s: Option<f64>,
    /// Of which in the kernel.
    pub(crate) server_sys_s: Option<f64>,
    /// By the bench process itself.
    pub(crate) bench_s: Option<f64>,
    /// Of which in the kernel.
    pub(crate) bench_sys_s: Option<f64>,
    /// Busy time of the whole machine (all processes, all cores).
    pub(crate) machine_busy_s: Option<f64>,
    /// Idle time of the whole machine (all cores).
    pub(crate) machine_idle_s: Option<f64>,
    /// Time the hypervisor ran something else on our virtual cores.
    pub(crate) machine_steal_s: Option<f64>,
    /// Busy time of everything but the server and the bench: other
    /// processes sharing the machine (a disturbed measurement when large).
    pub(crate) other_s: Option<f64>,
}

/// Rounds a CPU time difference to 10 ms (the tick), never below zero.
fn round2(v: f64) -> f64 {
    let r = (v * 100.0).round() / 100.0;
    if r > 0.0 { r } else { 0.0 }
}

impl CpuMeter {
    /// Starts measuring.
    pub(crate) fn start(server_pid: Option<u32>) -> Self {
        Self {
            server_pid,
            server: server_pid.and_then(read_cpu_seconds),
            own: read_cpu_seconds(std::process::id()),
            machine: read_machine_cpu(),
        }
    }

    /// CPU used since [`start`](Self::start).
    pub(crate) fn stop(&self) -> CpuUse {
        let diff = |before: Option<CpuTimes>, now: Option<CpuTimes>| match (before, now) {
            (Some(b), Some(n)) => (
                Some(round2(n.user + n.system - b.user - b.system)),
                Some(round2(n.system - b.system)),
            ),
            _ => (None, None),
        };
        let (server_s, server_sys_s) =
            diff(self.server, self.server_pid.and_then(read_cpu_seconds));
        let (bench_s, bench_sys_s) = diff(self.own, read_cpu_seconds(std::process::id()));
        let machine = match (self.machine, read_machine_cpu()) {
            (Some(b), Some(n)) => Some((
                round2(n.busy - b.busy),
                round2(n.idle - b.idle),
                round2(n.steal - b.steal),
            )),
            _ => None,
        };
        CpuUse {
            server_s,
            server_sys_s,
            bench_s,
            bench_sys_s,
            machine_busy_s: machine.map(|m| m.0),
            machine_idle_s: machine.map(|m| m.1),
            machine_steal_s: machine.map(|m| m.2),
            other_s: match (machine, server_s, bench_s) {
                (Some(m), Some(s), Some(b)) => Some(round2((m.0 - s - b).max(0.0))),
                _ => None,
            },
        }
    }
}

impl CpuUse {
    /// `server 1.23 s (0.40 s kernel), bench 0.45 s (0.20 s kernel)`.
    pub(crate) fn describe(&self) -> String {
        let f = |total: Option<f64>, sys: Option<f64>| match (total, sys) {
            (Some(t), Some(s)) => format!("{t:.2} s ({s:.2} s kernel)"),
            _ => "unknown".to_owned(),
        };
        let machine = match (self.machine_busy_s, self.machine_idle_s, self.other_s) {
            (Some(b), Some(i), Some(o)) => {
                format!("; machine busy {b:.2} s (other processes {o:.2} s), idle {i:.2} s")
            }
            (Some(b), Some(i), None) => format!("; machine busy {b:.2} s, idle {i:.2} s"),
            _ => String::new(),
        };
        format!(
            "server {}, bench {}{machine}",
            f(self.server_s, self.server_sys_s),
            f(self.bench_s, self.bench_sys_s)
        )
    }
}

/// Memory per connection in bytes: `(after - before) / n`, with the RSS
/// figures in KiB. `None` when `n` is 0. Negative when the process shrank.
pub(crate) fn per_connection_bytes(before_kib: u64, after_kib: u64, n: usize) -> Option<f64> {
    if n == 0 {
        return None;
    }
    // KiB figures of a process and connection counts are far below 2^53.
    #[allow(clippy::cast_precision_loss)]
    let (delta, n) = ((after_kib as f64 - before_kib as f64) * 1024.0, n as f64);
    Some((delta / n * 10.0).round() / 10.0)
}

/// The value at quantile `q` (0..=1) of `sorted`, nearest-rank method.
pub(crate) fn nearest_rank(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    // Rank = ceil(q * n), clamped to 1..=n; n is far below 2^53.
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    sorted.get(rank - 1).copied()
}

/// Microseconds of a duration, saturating.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tliveview-bench\nUmask:\t0022\nState:\tS (sleeping)\n\
        Tgid:\t4242\nPid:\t4242\nVmPeak:\t  123456 kB\nVmSize:\t  120000 kB\n\
        VmHWM:\t   40000 kB\nVmRSS:\t   35872 kB\nRssAnon:\t   30000 kB\n\
        Threads:\t3\n";

    const LIMITS: &str = "Limit                     Soft Limit           Hard Limit           Units     \n\
        Max cpu time              unlimited            unlimited            seconds   \n\
        Max open files            20000                20000                files     \n\
        Max locked memory         8388608              8388608              bytes     \n";

    #[test]
    fn parses_vm_rss_from_proc_status() {
        assert_eq!(parse_vm_rss_kib(STATUS), Some(35_872));
        assert_eq!(status_field_kib(STATUS, "VmHWM"), Some(40_000));
        assert_eq!(status_field_kib(STATUS, "RssAnon"), Some(30_000));
        // "VmRSS" must not match a longer name, nor a missing field.
        assert_eq!(parse_vm_rss_kib("VmRSSX:\t1 kB\n"), None);
        assert_eq!(parse_vm_rss_kib("Name:\tx\n"), None);
        assert_eq!(parse_vm_rss_kib("VmRSS:\tlots kB\n"), None);
    }

    #[test]
    fn reads_own_rss() {
        let kib = read_vm_rss_kib(std::process::id()).unwrap_or(0);
        assert!(kib > 0);
    }

    #[test]
    fn parses_max_open_files() {
        assert_eq!(parse_max_open_files(LIMITS), Some(20_000));
        assert_eq!(
            parse_max_open_files("Max open files            unlimited  unlimited  files\n"),
            None
        );
    }

    #[test]
    fn parses_cpu_time_from_proc_stat() {
        // utime 250 and stime 50 ticks: 3 s; the name has spaces and ')'.
        let stat = "4242 (liveview (bench) x) S 1 4242 4242 0 -1 4194560 1200 0 0 0 250 50 0 0 20 0 3 0 100 1000000 900 18446744073709551615";
        assert_eq!(
            parse_cpu_seconds(stat),
            Some(CpuTimes {
                user: 2.5,
                system: 0.5
            })
        );
        assert_eq!(parse_cpu_seconds("garbage"), None);
        assert!(read_cpu_seconds(std::process::id()).is_some());
        let machine = parse_machine_cpu("cpu  100 0 50 800 20 0 10 40 0 0\ncpu0 1 2 3\n");
        assert_eq!(
            machine,
            Some(MachineTimes {
                busy: 1.6,
                idle: 8.2,
                steal: 0.4
            })
        );
        assert!(parse_machine_cpu("intr 1 2").is_none());
        assert_eq!(round2(-0.001).to_string(), "0");
        assert!((round2(1.234_5) - 1.23).abs() < 1e-12);
        let meter = CpuMeter::start(None);
        let used = meter.stop();
        assert!(used.server_s.is_none());
        assert!(used.bench_s.is_some_and(|s| s >= 0.0));
    }

    #[test]
    fn per_connection_memory() {
        // 10,000 connections grew the process by 100,000 KiB: 10,240 bytes each.
        assert_eq!(
            per_connection_bytes(50_000, 150_000, 10_000),
            Some(10_240.0)
        );
        assert_eq!(per_connection_bytes(1, 4, 3), Some(1024.0));
        assert_eq!(per_connection_bytes(100, 90, 10), Some(-1024.0));
        assert_eq!(per_connection_bytes(1, 2, 0), None);
        // Rounded to one decimal.
        assert_eq!(per_connection_bytes(0, 1, 3), Some(341.3));
    }

    #[test]
    fn percentiles_of_one_to_a_thousand() {
        let mut h = Latency::new();
        for us in 1..=1000 {
            h.record_us(us);
        }
        let p = h.percentiles();
        assert_eq!(p.count, 1000);
        assert_eq!(p.min_us, 1);
        assert_eq!(p.p50_us, 500);
        assert_eq!(p.p90_us, 900);
        assert_eq!(p.p99_us, 990);
        assert_eq!(p.p999_us, 999);
        assert_eq!(p.max_us, 1000);
        assert!((p.mean_us - 500.5).abs() < 1e-9);
    }

    #[test]
    fn percentiles_of_a_skewed_distribution() {
        // 990 fast events of 100 µs and 10 slow ones of 50 ms.
        let mut h = Latency::new();
        for _ in 0..990 {
            h.record(Duration::from_micros(100));
        }
        for _ in 0..10 {
            h.record(Duration::from_millis(50));
        }
        let p = h.percentiles();
        assert_eq!(p.p50_us, 100);
        assert_eq!(p.p99_us, 100);
        // 3 significant figures: 50,000 µs is reported within 0.1 %.
        assert!(p.p999_us.abs_diff(50_000) <= 50, "{}", p.p999_us);
        assert!(p.max_us.abs_diff(50_000) <= 50, "{}", p.max_us);
    }

    #[test]
    fn merge_adds_counts_and_clamps() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        a.record_us(10);
        b.record_us(0); // clamped to 1 µs
        b.record(Duration::from_secs(3600)); // clamped to 60 s
        a.merge(&b);
        assert_eq!(a.len(), 3);
        let p = a.percentiles();
        assert_eq!(p.min_us, 1);
        assert!(p.max_us >= MAX_TRACKABLE_US);
        assert_eq!(Latency::new().percentiles(), Percentiles::default());
    }

    #[test]
    fn rates_and_ranks() {
        assert!((rate(30_000, Duration::from_secs(2)) - 15_000.0).abs() < 1e-9);
        assert!(rate(5, Duration::ZERO).abs() < f64::EPSILON);
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(nearest_rank(&v, 0.0), Some(1));
        assert_eq!(nearest_rank(&v, 0.5), Some(5));
        assert_eq!(nearest_rank(&v, 1.0), Some(10));
        assert_eq!(nearest_rank(&[], 0.5), None);
        assert_eq!(micros(Duration::from_millis(3)), 3000);
    }
}
