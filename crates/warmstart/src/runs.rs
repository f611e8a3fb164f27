//! What each run did, kept in the cache ([`RunRecord`]): the experiment file's digest, when
//! it ran and for how long, and how every instance ended (with its key and, for failures,
//! the error). A front end shows an experiment's failures from its latest record (the HTML
//! report does), and lists or compares runs from all of them.
//!
//! A record is written once the run is over; failing to write it never fails the run (a
//! warning event says so). It also holds the experiment's `[params]` values, the
//! command-line overrides, and the values of the experiment's `[experiment] metrics` as
//! the run left them — what `warmstart compare` tabulates across runs ([`metrics`]). A
//! run can be named ([`tag`]); `gc` keeps the entries of every experiment's latest run and
//! of every tagged run ([`kept_keys`]). Records that cannot be parsed (written by a newer version, or
//! damaged) are skipped when listing: they are history, not the source of truth — the
//! entries are.

use std::time::{SystemTime, UNIX_EPOCH};

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use warmstart_cache::{CacheError, CacheKey, Store};
use warmstart_plan::Plan;
use warmstart_plan::run::{RunSummary, Status};

/// The format version of [`RunRecord`]; fields are only added within a version.
pub const RUN_RECORD_FORMAT: u32 = 1;

/// One run of an experiment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunRecord {
    /// [`RUN_RECORD_FORMAT`].
    pub format: u32,
    /// The record's id: its start time and process (`1764277200123-4711`).
    pub id: String,
    /// The experiment's name.
    pub experiment: String,
    /// The experiment file, as given.
    pub file: String,
    /// blake3 of the experiment file's text.
    pub file_digest: String,
    /// Where it ran: `local` or `slurm`.
    pub executor: String,
    /// The warmstart version that ran it.
    pub warmstart_version: String,
    /// When it started (milliseconds since the Unix epoch).
    pub started_unix_ms: u64,
    /// Its wall time.
    pub duration_ms: u64,
    /// Instances that ran, were cached, failed, were skipped.
    pub ran: usize,
    /// See `ran`.
    pub cached: usize,
    /// See `ran`.
    pub failed: usize,
    /// See `ran`.
    pub skipped: usize,
    /// Whether it was interrupted.
    pub interrupted: bool,
    /// Every instance that ended, in plan order.
    pub instances: Vec<InstanceRecord>,
    /// The command-line overrides (`tau=25`), as given.
    #[serde(default)]
    pub overrides: Vec<String>,
    /// The experiment's `[params]` values (those not depending on a sweep axis).
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The `[experiment] metrics` after the run.
    #[serde(default)]
    pub metrics: Vec<Metric>,
}

/// One metric's value after a run: the mean over every row of the column in every fresh
/// instance of the stage (with one row in all, the value itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metric {
    /// `stage.column` or `stage.table.column`.
    pub name: String,
    /// The mean; `None` when no fresh instance has the column.
    pub value: Option<f64>,
    /// How many values it is the mean of.
    pub n: usize,
}

/// Why a runs query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunsError {
    /// The experiment has no run records.
    #[error("experiment `{experiment}` has no recorded runs")]
    NoRuns {
        /// The experiment.
        experiment: String,
    },
    /// No run has this id or tag.
    #[error("no run `{run}` of experiment `{experiment}`")]
    NoSuchRun {
        /// The experiment.
        experiment: String,
        /// As given.
        run: String,
        /// Ids and tags that exist (newest first, at most 10).
        available: Vec<String>,
    },
    /// A tag name that cannot be a file name.
    #[error("invalid tag name {name:?}: use lowercase letters, digits, `.`, `_` and `-`")]
    BadTag {
        /// As given.
        name: String,
    },
    /// The cache could not be read or written.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// How one instance ended in a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceRecord {
    /// `stage` or `stage[a=1,b=2]`.
    pub label: String,
    /// Its key (absent for skipped instances).
    pub key: Option<String>,
    /// How it ended.
    pub status: Status,
    /// How long it ran.
    pub duration_ms: u64,
    /// The failure, or why it was skipped.
    pub error: Option<String>,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The record of a run of `plan` that started at `started_unix_ms` and ended in `summary`.
pub fn record_of(
    plan: &Plan,
    summary: &RunSummary,
    started_unix_ms: u64,
    executor: &str,
) -> RunRecord {
    // An instance can end twice (ran, then its entry could not be written); the last
    // event counts, and the record lists instances in plan order.
    let mut last: Vec<Option<usize>> = vec![None; plan.nodes.len()];
    for (i, ev) in summary.events.iter().enumerate() {
        if let Some(slot) = last.get_mut(ev.node) {
            *slot = Some(i);
        }
    }
    let instances = last
        .iter()
        .flatten()
        .map(|&i| {
            let ev = &summary.events[i];
            InstanceRecord {
                label: ev.label(),
                key: ev.key.map(|k| k.to_string()),
                status: ev.status,
                duration_ms: ev.duration_ms,
                error: ev.error.clone(),
            }
        })
        .collect();
    let source = &plan.experiment.source;
    RunRecord {
        format: RUN_RECORD_FORMAT,
        id: format!("{started_unix_ms:013}-{}", std::process::id()),
        experiment: plan.experiment.name.clone(),
        file: source.path.display().to_string(),
        file_digest: blake3::hash(source.text.as_bytes()).to_hex().to_string(),
        executor: executor.to_string(),
        warmstart_version: env!("CARGO_PKG_VERSION").to_string(),
        started_unix_ms,
        duration_ms: summary.duration_ms,
        ran: summary.ran,
        cached: summary.cached,
        failed: summary.failed,
        skipped: summary.skipped,
        interrupted: summary.interrupted,
        instances,
        overrides: plan.experiment.overrides.clone(),
        params: plan
            .experiment
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.value.to_json()))
            .collect(),
        metrics: Vec::new(),
    }
}

/// A column's finite values as numbers; a boolean column counts true as 1 (so its mean is
/// the fraction that holds, e.g. of instances where W2SG held).
fn metric_values(col: &arrow_array::ArrayRef) -> Vec<f64> {
    use arrow_array::Array;
    if let Some(b) = col.as_any().downcast_ref::<arrow_array::BooleanArray>() {
        return (0..b.len())
            .filter(|&i| b.is_valid(i))
            .map(|i| if b.value(i) { 1.0 } else { 0.0 })
            .collect();
    }
    crate::html::numbers(col)
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x.is_finite())
        .collect()
}

/// The values of `plan`'s `[experiment] metrics` in `store` now.
pub fn metrics(plan: &Plan, store: &Store) -> Vec<Metric> {
    if plan.experiment.metrics.is_empty() {
        return Vec::new();
    }
    let assessment = warmstart_plan::assess(plan, store);
    plan.experiment
        .metrics
        .iter()
        .map(|m| {
            let parts: Vec<&str> = m.value.split('.').collect();
            let (stage, table, column) = match parts.as_slice() {
                [s, c] => (*s, None, *c),
                [s, t, c] => (*s, Some(*t), *c),
                _ => ("", None, ""),
            };
            let mut values = Vec::new();
            for i in plan.nodes_of(stage) {
                let Ok(tables) = crate::read::read_outputs(plan, &assessment, store, i) else {
                    continue;
                };
                let t = match table {
                    Some(t) => tables.iter().find(|x| x.name == t),
                    None => tables
                        .iter()
                        .find(|x| x.batch.column_by_name(column).is_some()),
                };
                if let Some(col) = t.and_then(|t| t.batch.column_by_name(column)) {
                    values.extend(metric_values(col));
                }
            }
            Metric {
                name: m.value.clone(),
                value: (!values.is_empty())
                    .then(|| values.iter().sum::<f64>() / values.len() as f64),
                n: values.len(),
            }
        })
        .collect()
}

/// Store `record` in the cache (with `metrics` filled in, if the experiment has any).
pub fn save(store: &Store, record: &RunRecord) -> Result<(), CacheError> {
    let bytes = serde_json::to_vec(record).unwrap_or_default();
    store
        .write_run_record(&record.experiment, &format!("{}.json", record.id), &bytes)
        .map(|_| ())
}

/// Every readable run record of `experiment`, oldest first.
pub fn records(store: &Store, experiment: &str) -> Result<Vec<RunRecord>, CacheError> {
    Ok(parse_records(
        &store.run_records(experiment)?,
        Some(experiment),
    ))
}

fn parse_records(files: &[(String, Vec<u8>)], experiment: Option<&str>) -> Vec<RunRecord> {
    files
        .iter()
        .filter(|(name, _)| name.ends_with(".json"))
        .filter_map(|(_, bytes)| serde_json::from_slice::<RunRecord>(bytes).ok())
        .filter(|r| r.format == RUN_RECORD_FORMAT)
        .filter(|r| experiment.is_none_or(|e| r.experiment == e))
        .collect()
}

/// The tags of `experiment`: (tag, run id), sorted by tag.
pub fn tags(store: &Store, experiment: &str) -> Result<Vec<(String, String)>, CacheError> {
    Ok(parse_tags(&store.run_records(experiment)?))
}

fn parse_tags(files: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
    files
        .iter()
        .filter_map(|(name, bytes)| {
            let tag = name.strip_prefix("tag.")?.to_string();
            Some((tag, std::str::from_utf8(bytes).ok()?.trim().to_string()))
        })
        .collect()
}

/// The run `run` names — an id, a unique id prefix, or a tag — among `records`.
pub fn find<'r>(
    records: &'r [RunRecord],
    tags: &[(String, String)],
    experiment: &str,
    run: &str,
) -> Result<&'r RunRecord, RunsError> {
    let id = tags
        .iter()
        .find(|(t, _)| t == run)
        .map_or(run, |(_, id)| id.as_str());
    // An exact id wins (`…-12` is also a prefix of `…-123`); else a unique prefix.
    if let Some(r) = records.iter().find(|r| r.id == id) {
        return Ok(r);
    }
    let mut hits = records.iter().filter(|r| r.id.starts_with(id));
    match (hits.next(), hits.next()) {
        (Some(r), None) => Ok(r),
        _ => Err(RunsError::NoSuchRun {
            experiment: experiment.to_string(),
            run: run.to_string(),
            available: records
                .iter()
                .rev()
                .take(10)
                .map(|r| r.id.clone())
                .chain(tags.iter().map(|(t, _)| t.clone()))
                .collect(),
        }),
    }
}

/// Name run `run` (default: the latest) of `experiment` `name`, replacing an earlier run
/// of that name; the run's id.
pub fn tag(
    store: &Store,
    experiment: &str,
    name: &str,
    run: Option<&str>,
) -> Result<String, RunsError> {
    let plain = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !plain {
        return Err(RunsError::BadTag {
            name: name.to_string(),
        });
    }
    let records = records(store, experiment)?;
    let tags = tags(store, experiment)?;
    let id = match run {
        Some(r) => find(&records, &tags, experiment, r)?.id.clone(),
        None => match records.last() {
            Some(r) => r.id.clone(),
            None => {
                return Err(RunsError::NoRuns {
                    experiment: experiment.to_string(),
                });
            }
        },
    };
    store.write_run_record(experiment, &format!("tag.{name}"), id.as_bytes())?;
    Ok(id)
}

/// The keys gc keeps for run history: every output key of each experiment's latest run
/// and of every tagged run (instances that ran or were cached in it).
pub fn kept_keys(store: &Store) -> Result<HashSet<CacheKey>, CacheError> {
    let mut keys = HashSet::new();
    for dir in store.run_dirs()? {
        let files = store.run_dir_files(&dir)?;
        let tagged: HashSet<String> = parse_tags(&files).into_iter().map(|t| t.1).collect();
        let records = parse_records(&files, None);
        let latest = records.last().map(|r| r.id.clone());
        for r in &records {
            if Some(&r.id) != latest.as_ref() && !tagged.contains(&r.id) {
                continue;
            }
            for i in &r.instances {
                if matches!(i.status, Status::Ran | Status::Cached)
                    && let Some(k) = i.key.as_deref().and_then(|k| k.parse::<CacheKey>().ok())
                {
                    keys.insert(k);
                }
            }
        }
    }
    Ok(keys)
}

/// The newest readable run record of `experiment`.
pub fn latest(store: &Store, experiment: &str) -> Option<RunRecord> {
    records(store, experiment).ok()?.pop()
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days, proleptic
/// Gregorian; no time-zone database needed).
pub fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> RunRecord {
        RunRecord {
            format: RUN_RECORD_FORMAT,
            id: id.into(),
            experiment: "e".into(),
            file: String::new(),
            file_digest: String::new(),
            executor: "local".into(),
            warmstart_version: String::new(),
            started_unix_ms: 0,
            duration_ms: 0,
            ran: 0,
            cached: 0,
            failed: 0,
            skipped: 0,
            interrupted: false,
            instances: Vec::new(),
            overrides: Vec::new(),
            params: serde_json::Map::new(),
            metrics: Vec::new(),
        }
    }

    #[test]
    fn runs_are_found_by_exact_id_unique_prefix_or_tag() {
        let rs = vec![
            record("0000000000001-12"),
            record("0000000000001-123"),
            record("0000000000002-7"),
        ];
        let tags = vec![("best".to_string(), "0000000000002-7".to_string())];
        let id = |q: &str| find(&rs, &tags, "e", q).map(|r| r.id.clone());
        assert_eq!(id("0000000000001-12").unwrap(), "0000000000001-12");
        assert_eq!(id("0000000000001-123").unwrap(), "0000000000001-123");
        assert_eq!(id("0000000000002").unwrap(), "0000000000002-7");
        assert_eq!(id("best").unwrap(), "0000000000002-7");
        // Ambiguous prefix and unknown names are errors listing what exists.
        assert!(matches!(
            find(&rs, &tags, "e", "0000000000001"),
            Err(RunsError::NoSuchRun { .. })
        ));
        match find(&rs, &tags, "e", "nope") {
            Err(RunsError::NoSuchRun { available, .. }) => {
                assert!(available.contains(&"best".to_string()))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn utc_dates_are_civil() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_245_199_000), "2026-12-02 20:59:59 UTC");
    }
}
