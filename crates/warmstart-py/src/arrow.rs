//! Tables to pyarrow without copying: the Arrow C stream interface wrapped in a
//! PyCapsule (the "Arrow PyCapsule interface"). [`ArrowStream`] holds Rust record
//! batches and exports them through `__arrow_c_stream__`; pyarrow (or polars, DuckDB, …)
//! imports the stream and wraps the same buffers, which stay alive until the consumer
//! releases them.

use std::sync::Arc;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{RecordBatch, RecordBatchIterator};
use arrow_schema::SchemaRef;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// Arrow record batches that any Arrow PyCapsule consumer can import without a copy:
/// `pyarrow.table(stream)`, `pyarrow.RecordBatchReader.from_stream(stream)`,
/// `polars.from_arrow(stream)`.
#[pyclass(frozen, module = "warmstart")]
pub struct ArrowStream {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl ArrowStream {
    /// Batches sharing `schema`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        ArrowStream { schema, batches }
    }

    /// One batch.
    pub fn of_batch(batch: RecordBatch) -> Self {
        ArrowStream::new(batch.schema(), vec![batch])
    }

    /// As a `pyarrow.Table` (imported through the stream, no copy).
    pub fn into_pyarrow(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let stream = Bound::new(py, self)?;
        Ok(py
            .import("pyarrow")?
            .getattr("table")?
            .call1((stream,))?
            .unbind())
    }
}

#[pymethods]
impl ArrowStream {
    /// A fresh `ArrowArrayStream` over the batches (they are shared, not copied). A
    /// requested schema is not honoured: the batches come in their own schema, which the
    /// interface allows.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let reader = RecordBatchIterator::new(
            self.batches.clone().into_iter().map(Ok),
            Arc::clone(&self.schema),
        );
        let stream = FFI_ArrowArrayStream::new(Box::new(reader));
        // The capsule owns the stream struct; a consumer moves it out (leaving a released
        // struct behind) and the capsule's destructor drops what is left.
        PyCapsule::new_with_value(py, stream, c"arrow_array_stream")
    }

    fn __len__(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    fn __repr__(&self) -> String {
        format!(
            "ArrowStream({} rows in {} batches; {})",
            self.__len__(),
            self.batches.len(),
            self.schema
        )
    }
}
