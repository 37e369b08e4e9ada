//! Resident memory of a running process, from `/proc/<pid>/status`.
//!
//! `VmRSS` is what the process holds now; `VmHWM` is the most it has held
//! since it started (its peak). Lambda bills and limits on the same resident
//! set, so these are the figures to hold against a 128 MB function.

use std::time::Duration;

/// One reading, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rss {
    pub current: u64,
    pub peak: u64,
}

/// Reads `pid`'s resident set now; `None` once the process has exited.
pub fn read(pid: u32) -> Option<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let current = field_kb(&status, "VmRSS:")?;
    let peak = field_kb(&status, "VmHWM:")?;
    Some(Rss {
        current: current * 1024,
        peak: peak * 1024,
    })
}

fn field_kb(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

/// Follows one process until it exits and keeps the last peak it showed.
///
/// `VmHWM` only grows, so the last reading before exit is the peak, short of
/// whatever the process allocates in its final `interval`.
pub struct PeakWatcher {
    pid: u32,
    peak: u64,
}

impl PeakWatcher {
    pub fn new(pid: u32) -> Self {
        Self { pid, peak: 0 }
    }

    /// Takes one reading; false once the process is gone.
    pub fn sample(&mut self) -> bool {
        match read(self.pid) {
            Some(rss) => {
                self.peak = self.peak.max(rss.peak);
                true
            }
            None => false,
        }
    }

    pub fn peak(&self) -> u64 {
        self.peak
    }

    pub const INTERVAL: Duration = Duration::from_millis(10);
}

pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_resident_set_and_a_peak_at_least_as_large() {
        let rss = read(std::process::id()).expect("own /proc status");
        assert!(rss.current > 0);
        assert!(rss.peak >= rss.current);
    }

    #[test]
    fn a_process_that_does_not_exist_has_no_reading() {
        assert_eq!(read(u32::MAX), None);
    }

    #[test]
    fn status_fields_are_read_in_kilobytes() {
        let status = "Name:\tx\nVmHWM:\t   2048 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(field_kb(status, "VmRSS:"), Some(1024));
        assert_eq!(field_kb(status, "VmHWM:"), Some(2048));
    }
}
