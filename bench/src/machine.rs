//! The machine a run measured: cores, memory, CPU model, date.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

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
