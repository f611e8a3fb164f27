//! Experiment files (docs to come).

pub mod error;
pub mod expand;
pub mod expr;
pub mod model;
pub mod parse;
pub mod schema;

use std::path::Path;

pub use error::{SpecError, SpecErrors, did_you_mean};
pub use expand::expand;
pub use model::*;
pub use parse::parse;
pub use schema::json_schema;

/// Read and parse an experiment file. The path is used as given in diagnostics.
pub fn load(path: &Path) -> Result<Experiment, SpecErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecError::io(path, e))?;
    parse(SourceFile {
        path: path.to_path_buf(),
        text,
    })
}
