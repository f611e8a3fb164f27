//! Running the child: its own process group (so a timeout kills grandchildren too),
//! stdout/stderr captured line by line on two threads, a polling wait with a deadline.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use warmstart_engine::EngineError;

/// Which stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// What a finished (or killed) child left behind.
pub struct Finished {
    /// Lines in arrival order (interleaving between the streams is approximate).
    pub lines: Vec<(Stream, String)>,
    pub status_ok: bool,
    pub status_text: String,
    pub timed_out: bool,
}

impl Finished {
    /// The last `n` stderr lines, formatted for an error message ("" if none).
    pub fn stderr_tail(&self, n: usize) -> String {
        let err: Vec<&str> = self
            .lines
            .iter()
            .filter(|(s, _)| *s == Stream::Stderr)
            .map(|(_, l)| l.as_str())
            .collect();
        if err.is_empty() {
            return String::new();
        }
        let tail = &err[err.len().saturating_sub(n)..];
        format!(
            "\nlast {} line(s) of stderr:\n  {}",
            tail.len(),
            tail.join("\n  ")
        )
    }
}

fn pump(r: impl Read, stream: Stream, sink: Arc<Mutex<Vec<(Stream, String)>>>) {
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                if let Ok(mut v) = sink.lock() {
                    v.push((stream, line));
                }
            }
        }
    }
}

#[cfg(unix)]
fn kill_group(child: &mut std::process::Child) {
    // SAFETY: sending a signal to the process group we created for the child.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    let _ = child.kill();
}

#[cfg(not(unix))]
fn kill_group(child: &mut std::process::Child) {
    let _ = child.kill();
}

/// Run `argv` in `dir` with extra `env`; kill it after `timeout`.
pub fn run(
    argv: &[String],
    dir: &Path,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<Finished, EngineError> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| {
        EngineError::failed(format!(
            "cannot start `{}`: {e}. Is it installed and on PATH?",
            argv[0]
        ))
    })?;
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        let l = lines.clone();
        pumps.push(std::thread::spawn(move || pump(out, Stream::Stdout, l)));
    }
    if let Some(err) = child.stderr.take() {
        let l = lines.clone();
        pumps.push(std::thread::spawn(move || pump(err, Stream::Stderr, l)));
    }
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                kill_group(&mut child);
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                kill_group(&mut child);
                return Err(EngineError::failed(format!(
                    "waiting for `{}`: {e}",
                    argv[0]
                )));
            }
        }
    };
    // Stragglers in the group (a background job) would keep the pipes open.
    #[cfg(unix)]
    // SAFETY: signalling our child's own process group.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    for p in pumps {
        let _ = p.join();
    }
    let lines = std::mem::take(&mut *lines.lock().unwrap_or_else(|p| p.into_inner()));
    let (status_ok, status_text) = match status {
        Some(s) if s.success() => (true, "exit status 0".to_string()),
        Some(s) => (false, describe_status(s)),
        None => (false, "unknown exit status".to_string()),
    };
    Ok(Finished {
        lines,
        status_ok,
        status_text,
        timed_out,
    })
}

fn describe_status(s: std::process::ExitStatus) -> String {
    if let Some(c) = s.code() {
        return format!("exit status {c}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return format!("killed by signal {sig}");
        }
    }
    s.to_string()
}
