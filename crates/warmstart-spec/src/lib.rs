//! Experiment files (placeholder docs).
pub mod error;
pub mod expr;
pub use error::{SpecError, SpecErrors, did_you_mean};
use std::path::PathBuf;
pub type Span = std::ops::Range<usize>;
pub struct SourceFile { pub path: PathBuf, pub text: String }
