//! One server process (etcd or kube-apiserver) that cannot outlive the test process.
//!
//! Each is started by a small shell that runs it in the background and kills it (SIGKILL: its
//! data is thrown away anyway, and kube-apiserver takes seconds to shut down on SIGTERM) when
//! the shell's standard input closes. This process holds the other end of that pipe, so the
//! server stops when the [`Server`] is dropped, also while a test panics, and when the test
//! process dies without dropping it (a killed `cargo test`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

pub struct Server {
    pub name: &'static str,
    shell: Child,
    lifeline: Option<ChildStdin>,
    pub log: PathBuf,
}

/// `exec 3<&0` keeps the shell's standard input for the watcher: an asynchronous list without
/// job control reads /dev/null unless told otherwise.
const SUPERVISOR: &str = r#"exec 3<&0
"$@" </dev/null 3<&- &
server=$!
(cat <&3 >/dev/null; kill -9 "$server" 2>/dev/null) &
wait "$server""#;

impl Server {
    /// Starts `program args`, its standard output and error going to `log`.
    pub fn spawn(name: &'static str, program: &Path, args: &[String], log: PathBuf) -> Server {
        let out = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(SUPERVISOR)
            .arg(name)
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let lifeline = shell.stdin.take();
        Server {
            name,
            shell,
            lifeline,
            log,
        }
    }

    /// Whether the server has exited (the shell exits with it).
    pub fn exited(&mut self) -> bool {
        matches!(self.shell.try_wait(), Ok(Some(_)))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.log_text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Closing the pipe is what stops the server; then the shell reaps it and exits.
        drop(self.lifeline.take());
        let _ = self.shell.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// A sleeping shell that prints its pid, and that pid.
    fn sleeper(log: &str) -> (Server, u32) {
        let log = std::env::temp_dir().join(format!("{log}-{}.log", std::process::id()));
        let args = ["-c", "echo $$; exec sleep 300"].map(String::from);
        let server = Server::spawn("sleeper", Path::new("sh"), &args, log);
        let started = Instant::now();
        loop {
            if let Ok(pid) = server.log_text().trim().parse() {
                return (server, pid);
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no pid");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn gone_soon(pid: u32) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            // A killed child of the supervisor is reaped by it, so /proc forgets it.
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    #[test]
    fn a_dropped_server_is_killed_and_reaped() {
        let (server, pid) = sleeper("dropped");
        let log = server.log.clone();
        drop(server);
        assert!(gone_soon(pid), "process {pid} still runs");
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn a_server_is_killed_when_the_test_process_lets_go_of_it_without_dropping_it() {
        // What happens when the test process dies: the pipe's write end closes, nothing else.
        let (mut server, pid) = sleeper("orphaned");
        drop(server.lifeline.take());
        assert!(gone_soon(pid), "process {pid} outlived its lifeline");
        let started = Instant::now();
        while !server.exited() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the supervisor did not exit"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_file(&server.log);
    }
}
