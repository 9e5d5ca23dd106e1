//! The machine a run measured: cores, memory, CPU model, date; how busy its cores and a
//! process were.

use std::fmt;
use std::time::Duration;

/// Clock ticks per second in `/proc` (`USER_HZ`): 100 on every Linux architecture.
const TICKS_PER_SECOND: u64 = 100;

/// What the table's heading says about the machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// Cores the process may use.
    pub cores: usize,
    /// `MemTotal`, in bytes, if known.
    pub memory_bytes: Option<u64>,
    /// The first `model name` of /proc/cpuinfo, if known.
    pub cpu_model: Option<String>,
    /// The kernel release, if known.
    pub kernel: Option<String>,
    /// The 1-minute load average when the run started: how busy the (shared) machine was.
    pub load_average: Option<f64>,
    /// When the run started (UTC).
    pub date: chrono::DateTime<chrono::Utc>,
}

impl Machine {
    /// Reads this machine.
    pub fn detect() -> Machine {
        Machine {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_bytes: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|text| mem_total(&text)),
            cpu_model: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|text| cpu_model(&text)),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|text| text.trim().to_owned()),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|text| text.split_whitespace().next()?.parse().ok()),
            date: chrono::Utc::now(),
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} cores", self.cores)?;
        if let Some(bytes) = self.memory_bytes {
            write!(
                f,
                ", {:.1} GiB memory",
                bytes as f64 / f64::from(1u32 << 30)
            )?;
        }
        if let Some(model) = &self.cpu_model {
            write!(f, ", {model}")?;
        }
        if let Some(kernel) = &self.kernel {
            write!(f, ", Linux {kernel}")?;
        }
        write!(f, ", {}", self.date.format("%Y-%m-%d %H:%M UTC"))?;
        if let Some(load) = self.load_average {
            write!(f, ", load average {load:.2} at the start")?;
        }
        Ok(())
    }
}

/// `MemTotal:  24576000 kB` in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The first `model name : ...` of /proc/cpuinfo.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The resident memory (`VmRSS`) of process `pid`, in bytes.
pub fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The time all cores have spent so far, busy and in total, in clock ticks: the first line of
/// `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTimes {
    busy: u64,
    total: u64,
}

impl CpuTimes {
    /// The machine's times now.
    pub fn read() -> Option<CpuTimes> {
        cpu_times(&std::fs::read_to_string("/proc/stat").ok()?)
    }

    /// The share of the cores' time that was busy between `before` and this, from 0 to 1.
    pub fn busy_since(&self, before: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(before.total)?;
        let busy = self.busy.checked_sub(before.busy)?;
        (total > 0).then(|| busy as f64 / total as f64)
    }
}

/// `cpu  user nice system idle iowait irq softirq steal ...`: idle and iowait are not busy;
/// guest time is already counted in user time.
fn cpu_times(stat: &str) -> Option<CpuTimes> {
    let line = stat.lines().find(|line| line.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let total: u64 = ticks.iter().sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some(CpuTimes {
        busy: total - idle,
        total,
    })
}

/// The CPU time (user and system) process `pid` has used so far.
pub fn cpu_seconds(pid: u32) -> Option<Duration> {
    process_cpu(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Fields 14 and 15 of `/proc/<pid>/stat` (utime, stime), counted after the command name, which
/// may hold spaces and parentheses of its own.
fn process_cpu(stat: &str) -> Option<Duration> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis(
        (user + system) * 1000 / TICKS_PER_SECOND,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_are_read() {
        let before = cpu_times("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n").expect("times");
        let after = cpu_times("cpu  250 0 100 850 50 0 0 0 0 0\n").expect("times");
        assert_eq!(after.busy_since(&before), Some(0.8));
        let stat = "4242 (notif (r1) x) S 1 2 3 0 -1 4194304 102 0 0 0 150 50 0 0 20 0 1";
        assert_eq!(process_cpu(stat), Some(Duration::from_secs(2)));
    }

    #[test]
    fn proc_files_are_read() {
        assert_eq!(
            mem_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24_576_000 * 1024)
        );
        assert_eq!(
            cpu_model("processor\t: 0\nmodel name\t: AMD EPYC   7B13\n"),
            Some("AMD EPYC 7B13".to_owned())
        );
        assert_eq!(cpu_model("processor: 0\n"), None);
    }
}
