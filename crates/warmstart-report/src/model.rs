//! What a report shows, as plain data. The facade fills it in; [`crate::render`] draws it.

use serde::Serialize;

/// The whole report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The experiment's name.
    pub experiment: String,
    /// Its description (claim, grid, what it showed).
    pub description: String,
    /// Its seed.
    pub seed: u64,
    /// The experiment file, as given.
    pub file: String,
    /// blake3 of the file's text (hex).
    pub file_digest: String,
    /// The warmstart version that wrote the report.
    pub warmstart_version: String,
    /// When the newest cache entry of the experiment was written (UTC, readable).
    pub newest_entry: Option<String>,
    /// A line about the latest recorded run, if any.
    pub last_run: Option<String>,
    /// Instance counts over the whole experiment.
    pub counts: Counts,
    /// Stages in file order.
    pub stages: Vec<StageSection>,
    /// Stage graph edges: (reading stage index, read stage index) → `(from, to)` in
    /// data-flow direction, as indices into `stages`.
    pub edges: Vec<(usize, usize)>,
}

/// Instance counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Output in the cache and up to date.
    pub fresh: usize,
    /// Ran before, but its inputs or params changed since.
    pub stale: usize,
    /// No output was ever recorded for it.
    pub never_run: usize,
    /// Its latest run failed (and no fresh output exists).
    pub failed: usize,
}

impl Counts {
    /// All instances.
    pub fn total(&self) -> usize {
        self.fresh + self.stale + self.never_run + self.failed
    }

    /// Count one instance.
    pub fn add(&mut self, state: InstanceState) {
        match state {
            InstanceState::Fresh => self.fresh += 1,
            InstanceState::Stale => self.stale += 1,
            InstanceState::NeverRun => self.never_run += 1,
            InstanceState::Failed => self.failed += 1,
        }
    }

    /// The state a stage is drawn in: failed if any instance failed, fresh if all are,
    /// never run if none ever ran, stale otherwise.
    pub fn overall(&self) -> InstanceState {
        if self.failed > 0 {
            InstanceState::Failed
        } else if self.fresh == self.total() {
            InstanceState::Fresh
        } else if self.never_run == self.total() {
            InstanceState::NeverRun
        } else {
            InstanceState::Stale
        }
    }
}

/// The state of one stage instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    /// Output in the cache and up to date.
    Fresh,
    /// Ran before; must run again.
    Stale,
    /// Never ran.
    NeverRun,
    /// Failed in the latest run.
    Failed,
}

impl InstanceState {
    /// The word shown for it.
    pub fn word(self) -> &'static str {
        match self {
            InstanceState::Fresh => "fresh",
            InstanceState::Stale => "stale",
            InstanceState::NeverRun => "never run",
            InstanceState::Failed => "failed",
        }
    }

    /// The CSS class (and SVG fill) for it.
    pub fn class(self) -> &'static str {
        match self {
            InstanceState::Fresh => "fresh",
            InstanceState::Stale => "stale",
            InstanceState::NeverRun => "never",
            InstanceState::Failed => "failed",
        }
    }
}

/// One stage's section.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageSection {
    /// The stage's name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// Its description, if the file gives one.
    pub description: String,
    /// Its instances' states.
    pub counts: Counts,
    /// Its instances (the first ones, when there are many: see `instances_total`).
    pub instances: Vec<InstanceRow>,
    /// How many instances the stage has.
    pub instances_total: usize,
    /// Figures of its instances (the first ones: see `figures_total`).
    pub figures: Vec<Figure>,
    /// How many figures its fresh instances have.
    pub figures_total: usize,
    /// Previews of its instances' tables (the first instances only).
    pub previews: Vec<TablePreview>,
    /// Charts of scalar columns over the sweep axes.
    pub sweeps: Vec<SweepChart>,
}

/// One stage instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceRow {
    /// `stage` or `stage[a=1,b=2]`.
    pub label: String,
    /// Its coordinates, as shown.
    pub coords: Vec<(String, String)>,
    /// Its state.
    pub state: InstanceState,
    /// The first hex digits of its key, when known.
    pub key_prefix: Option<String>,
    /// How long it ran, for fresh instances.
    pub duration_ms: Option<u64>,
    /// (table, rows) of its output, for fresh instances.
    pub tables: Vec<(String, usize)>,
    /// (name, relative link) of its exported files.
    pub files: Vec<(String, String)>,
    /// Why it would run (stale and never-run instances).
    pub reasons: Vec<String>,
    /// Its error in the latest run (failed instances).
    pub error: Option<String>,
}

/// A figure file of an instance, shown inline.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    /// The instance it belongs to.
    pub instance: String,
    /// Its file name.
    pub name: String,
    /// Its MIME type (`image/png`, `image/svg+xml`).
    pub mime: String,
    /// Its bytes.
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// A link to the exported file.
    pub href: Option<String>,
}

/// The head of one output table.
#[derive(Debug, Clone, Serialize)]
pub struct TablePreview {
    /// The instance it belongs to.
    pub instance: String,
    /// The table's name.
    pub table: String,
    /// (name, type) of each column (the first ones of a wide table).
    pub columns: Vec<(String, String)>,
    /// How many columns the table has.
    pub columns_total: usize,
    /// The first rows, each cell as text.
    pub rows: Vec<Vec<String>>,
    /// How many rows the table has.
    pub row_count: usize,
    /// A link to the exported Parquet file.
    pub href: Option<String>,
}

/// One scalar column of an aggregate table drawn over the sweep axes.
#[derive(Debug, Clone, Serialize)]
pub struct SweepChart {
    /// The table it comes from (`instance` / `table`).
    pub source: String,
    /// The column drawn.
    pub column: String,
    /// The axis along x.
    pub x_axis: String,
    /// What is drawn.
    pub plot: SweepPlot,
}

/// A line chart (one axis, or a second axis as series) or a heat map (two axes).
#[derive(Debug, Clone, Serialize)]
pub enum SweepPlot {
    /// Lines over the x axis, one per series.
    Lines {
        /// The axis whose values name the series, if any.
        series_axis: Option<String>,
        /// (series label, points sorted by x).
        series: Vec<(String, Vec<(f64, f64)>)>,
    },
    /// A grid of cells.
    Heat {
        /// The axis along y.
        y_axis: String,
        /// Distinct x values, ascending.
        xs: Vec<f64>,
        /// Distinct y values, ascending.
        ys: Vec<f64>,
        /// `z[j][i]` at (xs[i], ys[j]); `None` where the grid has no row.
        z: Vec<Vec<Option<f64>>>,
    },
}
