//! Picking stage instances: `axis=value` filters (`--at` in the CLI), matching them against
//! an instance's coordinates, and selecting a stage's instances for `why` / `show`.

use std::path::PathBuf;

use warmstart_engine::Value;
use warmstart_plan::Plan;

/// Why instances could not be selected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// A filter is not of the form `AXIS=VALUE`.
    #[error("a filter must be AXIS=VALUE (e.g. alpha=0.5), got `{given}`")]
    BadFilter {
        /// The filter as given.
        given: String,
    },
    /// The experiment has no stage of that name.
    #[error("{} has no stage `{stage}`", file.display())]
    NoStage {
        /// The experiment file.
        file: PathBuf,
        /// The name asked for.
        stage: String,
        /// A near name (`did you mean …`) or the list of stages.
        hint: String,
    },
    /// No instance of the stage has the asked coordinates.
    #[error("no instance of `{stage}` matches {}", filters_text(filters))]
    NoMatch {
        /// The stage.
        stage: String,
        /// The filters, as parsed.
        filters: Vec<(String, String)>,
    },
}

/// `a=1, b=x`.
pub fn filters_text(filters: &[(String, String)]) -> String {
    filters
        .iter()
        .map(|(a, v)| format!("{a}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parse `axis=value` filters (whitespace around either side is dropped).
pub fn parse_filters(at: &[String]) -> Result<Vec<(String, String)>, SelectError> {
    at.iter()
        .map(|s| {
            s.split_once('=')
                .map(|(a, v)| (a.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| SelectError::BadFilter { given: s.clone() })
        })
        .collect()
}

/// Do an instance's coordinates match every `axis=value` filter? Values compare numerically
/// when both sides are numbers, else as text.
pub fn coords_match(coords: &[(String, Value)], filters: &[(String, String)]) -> bool {
    filters.iter().all(|(axis, want)| {
        coords.iter().any(|(a, v)| {
            a == axis
                && match (v.as_f64(), want.parse::<f64>().ok()) {
                    (Some(x), Some(y)) => x == y,
                    _ => v.as_str().map_or_else(|| v.to_string(), str::to_string) == *want,
                }
        })
    })
}

/// The indices (into `plan.nodes`) of `stage`'s instances that match every filter: at
/// least one, or an error saying why none.
pub fn select(
    plan: &Plan,
    stage: &str,
    filters: &[(String, String)],
) -> Result<Vec<usize>, SelectError> {
    if !plan.experiment.stages.iter().any(|s| s.name == stage) {
        let names: Vec<&str> = plan
            .experiment
            .stages
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let hint = warmstart_spec::did_you_mean(stage, names.iter().copied())
            .unwrap_or_else(|| format!("stages: {}", names.join(", ")));
        return Err(SelectError::NoStage {
            file: plan.experiment.source.path.clone(),
            stage: stage.to_string(),
            hint,
        });
    }
    let nodes: Vec<usize> = plan
        .nodes_of(stage)
        .into_iter()
        .filter(|&i| coords_match(&plan.nodes[i].coords, filters))
        .collect();
    if nodes.is_empty() {
        return Err(SelectError::NoMatch {
            stage: stage.to_string(),
            filters: filters.to_vec(),
        });
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_match_numbers_numerically() {
        let f = parse_filters(&["alpha = 0.50".into(), "name=x".into()]).unwrap();
        assert_eq!(
            f,
            vec![("alpha".into(), "0.50".into()), ("name".into(), "x".into())]
        );
        let coords = vec![
            ("alpha".to_string(), Value::Float(0.5)),
            ("name".to_string(), Value::Str("x".into())),
        ];
        assert!(coords_match(&coords, &f));
        assert!(!coords_match(&coords, &[("alpha".into(), "0.6".into())]));
        assert!(!coords_match(&coords, &[("beta".into(), "1".into())]));
        assert!(matches!(
            parse_filters(&["alpha".into()]),
            Err(SelectError::BadFilter { given }) if given == "alpha"
        ));
    }
}
