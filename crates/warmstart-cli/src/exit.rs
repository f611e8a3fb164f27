//! Exit codes — a contract scripts rely on — and [`Failure`], the one error type of the
//! command line, which knows its exit code.
//!
//! | code | meaning |
//! |---|---|
//! | [`OK`] (0) | success |
//! | [`STAGE_FAILED`] (1) | a stage failed, or a requested output does not exist (yet) |
//! | [`INVALID`] (2) | invalid experiment file, project file or usage |
//! | [`INTERRUPTED`] (130) | interrupted by Ctrl-C (nothing half-written; the next run resumes) |
//! | [`BROKEN_PIPE`] (141) | standard output was closed early (e.g. `warmstart plan … \| head`); quiet |
//!
//! Keep README.md's table of exit codes in sync with this one.

/// Success.
pub const OK: u8 = 0;
/// A stage failed, or a requested output does not exist (yet).
pub const STAGE_FAILED: u8 = 1;
/// Invalid experiment file, project file or command-line usage.
pub const INVALID: u8 = 2;
/// Interrupted by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;
/// Standard output was closed by its reader (128 + SIGPIPE, as shells report it).
pub const BROKEN_PIPE: u8 = 141;

/// A failure at the edge: what to print and which exit code to use.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Invalid experiment or usage ([`INVALID`]); the message is already rendered.
    #[error("{0}")]
    Invalid(String),
    /// A stage failed or an output is missing ([`STAGE_FAILED`]); the message may be empty
    /// when the failure was already reported as events.
    #[error("{0}")]
    Stage(String),
    /// Interrupted by Ctrl-C ([`INTERRUPTED`]).
    #[error("warmstart: interrupted")]
    Interrupted,
    /// Writing the output failed: [`BROKEN_PIPE`] for a closed pipe (quietly), else
    /// [`STAGE_FAILED`].
    #[error("cannot write the output: {0}")]
    Output(std::io::Error),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Invalid(_) => INVALID,
            Failure::Stage(_) => STAGE_FAILED,
            Failure::Interrupted => INTERRUPTED,
            Failure::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe => BROKEN_PIPE,
            Failure::Output(_) => STAGE_FAILED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_keep_their_numbers() {
        // Scripts depend on these numbers: never renumber.
        assert_eq!((OK, STAGE_FAILED, INVALID, INTERRUPTED), (0, 1, 2, 130));
        assert_eq!(Failure::Invalid("x".into()).exit_code(), 2);
        assert_eq!(Failure::Stage(String::new()).exit_code(), 1);
        assert_eq!(Failure::Interrupted.exit_code(), 130);
        assert_eq!(Failure::Interrupted.to_string(), "warmstart: interrupted");
        assert_eq!(Failure::Stage("boom".into()).to_string(), "boom");
    }
}
