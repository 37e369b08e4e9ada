//! Child processes that never outlive the test that started them.
//!
//! Each child gets its own process group, which is killed when the guard is
//! dropped (also during a panic's unwinding), and a parent-death signal, so
//! that even a test process killed outright takes its children with it.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

/// A running child process; dropping it kills the child's whole group.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    name: String,
}

impl ChildGuard {
    /// Spawns `command` in its own process group, with SIGKILL as its
    /// parent-death signal.
    ///
    /// The parent-death signal fires when the *thread* that spawned the child
    /// exits, so long-lived servers must be spawned from a thread that lives
    /// as long as they should.
    pub fn spawn(name: &str, mut command: Command) -> io::Result<Self> {
        command.process_group(0);
        // SAFETY: prctl is async-signal-safe and touches only the child.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Self {
            child,
            name: name.to_owned(),
        })
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the child to exit; `None` if it did not
    /// (the guard still kills it when dropped).
    pub fn wait_for(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let start = std::time::Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if start.elapsed() >= timeout {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Stops the child's process group and reaps the child.
    pub fn stop(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: signalling a process group we created.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(
    port: u16,
    child: &mut ChildGuard,
    timeout: std::time::Duration,
) -> io::Result<()> {
    let start = std::time::Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if !child.is_running() {
            return Err(io::Error::other(format!(
                "{} exited before listening on port {port}",
                child.name()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(io::Error::other(format!(
        "{} did not listen on port {port} within {timeout:?}",
        child.name()
    )))
}
