//! Tables across the C Data Interface: a [`RecordBatch`] travels as one struct array.
//!
//! [`export_batch`] produces the FFI structs; [`import_batch`] consumes them and *validates*
//! the result fully (schema is a struct, buffers are well-formed, no top-level nulls), so a
//! buggy producer yields an error instead of undefined behaviour later on.

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema, from_ffi, to_ffi};
use arrow_array::{Array, RecordBatch, StructArray};
use arrow_schema::{ArrowError, DataType};

/// Export a batch as a struct array.
pub fn export_batch(batch: &RecordBatch) -> Result<(FFI_ArrowArray, FFI_ArrowSchema), ArrowError> {
    let array = StructArray::from(batch.clone());
    to_ffi(&array.to_data())
}

/// Import a struct array as a batch, validating it fully.
///
/// # Safety
/// `array` and `schema` must be C Data Interface structs as the spec defines them (released
/// or not); the data they point to must stay valid until `array` is released.
pub unsafe fn import_batch(
    array: FFI_ArrowArray,
    schema: &FFI_ArrowSchema,
) -> Result<RecordBatch, ArrowError> {
    if array.is_released() {
        return Err(ArrowError::CDataInterface(
            "the array was already released (null release callback)".into(),
        ));
    }
    let dt = DataType::try_from(schema)?;
    if !matches!(dt, DataType::Struct(_)) {
        return Err(ArrowError::SchemaError(format!(
            "a table must be exported as a struct array, found {dt}"
        )));
    }
    // SAFETY: guaranteed by the caller.
    let data = unsafe { from_ffi(array, schema) }?;
    data.validate_full()?;
    if data.null_count() > 0 {
        return Err(ArrowError::InvalidArgumentError(
            "a table's struct array must have no top-level nulls".into(),
        ));
    }
    let s = StructArray::from(data);
    Ok(RecordBatch::from(s))
}

/// Whether `name` is a valid table name (`[a-z0-9_-]+`): the engine crate's one rule.
pub use warmstart_engine::identity::is_table_name as valid_table_name;

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn roundtrip() {
        let b = RecordBatch::try_from_iter(vec![
            (
                "x",
                Arc::new(Float64Array::from(vec![1.0, 2.5])) as arrow_array::ArrayRef,
            ),
            ("s", Arc::new(StringArray::from(vec![Some("a"), None])) as _),
        ])
        .unwrap();
        let (a, s) = export_batch(&b).unwrap();
        // SAFETY: `a` and `s` were just produced by `export_batch` and are imported once.
        let back = unsafe { import_batch(a, &s) }.unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn names() {
        assert!(valid_table_name("out_1-a"));
        assert!(!valid_table_name("Out"));
        assert!(!valid_table_name(""));
        assert!(!valid_table_name("a/b"));
    }
}
