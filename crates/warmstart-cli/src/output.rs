//! Writing the CLI's output without ever panicking on a write error.
//!
//! `println!`/`eprintln!` panic when the write fails (stdout on a full disk, stderr into a
//! closed pipe), and `let _ = writeln!` loses output silently. Every line the CLI prints
//! goes through [`Output`] instead: it keeps the first write error, drops later writes
//! (so a closed pipe costs nothing more), and [`Output::finish`] flushes and turns the
//! error into a [`Failure::Output`] that `main` maps to an exit code — quiet exit 141 for
//! a closed pipe (what a shell reports for a tool killed by SIGPIPE), exit 1 with a
//! message for anything else. Messages to stderr go through [`eprint_line`], which
//! ignores its own errors: there is nowhere left to report them.

use std::fmt;
use std::io::{self, Write};

use crate::Failure;

/// A writer that remembers its first error instead of returning or panicking on it.
pub struct Output<W: Write> {
    w: W,
    error: Option<io::Error>,
}

impl Output<io::BufWriter<io::StdoutLock<'static>>> {
    /// Standard output, locked for the life of the value and buffered (a line per stage
    /// instance must not be a system call per line); [`Output::finish`] flushes.
    pub fn stdout() -> Self {
        Output::new(io::BufWriter::new(io::stdout().lock()))
    }
}

impl<W: Write> Output<W> {
    pub fn new(w: W) -> Self {
        Output { w, error: None }
    }

    /// Write `args` and a newline, unless an earlier write failed.
    pub fn line(&mut self, args: fmt::Arguments<'_>) {
        if self.error.is_none()
            && let Err(e) = writeln!(self.w, "{args}")
        {
            self.error = Some(e);
        }
    }

    /// Write `args` as they are (no newline), unless an earlier write failed.
    pub fn text(&mut self, args: fmt::Arguments<'_>) {
        if self.error.is_none()
            && let Err(e) = write!(self.w, "{args}")
        {
            self.error = Some(e);
        }
    }

    /// Flush, and report the first error of any write.
    pub fn finish(mut self) -> Result<(), Failure> {
        if self.error.is_none()
            && let Err(e) = self.w.flush()
        {
            self.error = Some(e);
        }
        match self.error {
            None => Ok(()),
            Some(e) => Err(Failure::Output(e)),
        }
    }
}

/// Print one line to stderr; a failure to do so is ignored (there is nowhere to report it).
pub fn eprint_line(args: fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{args}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts `room` bytes, then fails like a full disk.
    struct Full {
        room: usize,
        written: Vec<u8>,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::from_raw_os_error(28)); // ENOSPC
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_first_error_is_kept_and_later_writes_are_dropped() {
        let mut out = Output::new(Full {
            room: 4,
            written: Vec::new(),
        });
        out.line(format_args!("abc"));
        out.line(format_args!("defgh"));
        out.line(format_args!("ijk"));
        match out.finish() {
            Err(Failure::Output(e)) => assert_eq!(e.raw_os_error(), Some(28)),
            _ => panic!("a full disk must be reported"),
        }
    }

    #[test]
    fn no_error_is_ok() {
        let mut out = Output::new(Vec::new());
        out.line(format_args!("x = {}", 1));
        out.text(format_args!("y"));
        assert!(out.finish().is_ok());
    }
}
