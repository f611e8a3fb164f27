//! The error type of the synthetic science: bad parameters are reported, never panicked on.

/// Why a computation could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// A parameter is out of its valid range (name, message).
    #[error("param `{0}`: {1}")]
    Param(&'static str, String),
    /// A numerical failure (e.g. a matrix that is not positive definite).
    #[error("numerical failure: {0}")]
    Numerical(String),
}

impl SynthError {
    pub(crate) fn param(name: &'static str, msg: impl Into<String>) -> Self {
        SynthError::Param(name, msg.into())
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, SynthError>;

/// Checks that `x` is finite and within `[lo, hi]`.
pub(crate) fn check_range(name: &'static str, x: f64, lo: f64, hi: f64) -> Result<()> {
    if x.is_finite() && x >= lo && x <= hi {
        Ok(())
    } else {
        Err(SynthError::param(
            name,
            format!("{x} must be in [{lo}, {hi}]"),
        ))
    }
}
