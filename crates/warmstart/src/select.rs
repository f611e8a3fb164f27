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
    /// The stage has no sweep axis of that name.
    #[error("{}", unknown_axis_text(stage, axis, axes))]
    UnknownAxis {
        /// The stage.
        stage: String,
        /// The axis asked for.
        axis: String,
        /// The stage's axes (empty when it is not swept).
        axes: Vec<String>,
        /// `did you mean …`, when a near name exists.
        hint: Option<String>,
    },
    /// No instance of the stage has this value on this axis.
    #[error("axis `{axis}` of `{stage}` has no value `{value}`")]
    NoValue {
        /// The stage.
        stage: String,
        /// The axis.
        axis: String,
        /// The value asked for.
        value: String,
        /// The axis's values among the stage's instances, in order.
        values: Vec<String>,
        /// `did you mean …`, when a near value exists.
        hint: Option<String>,
    },
    /// No instance of the stage has the asked coordinates (each value exists on its axis,
    /// but not in this combination).
    #[error("no instance of `{stage}` matches {}", filters_text(filters))]
    NoMatch {
        /// The stage.
        stage: String,
        /// The filters, as parsed.
        filters: Vec<(String, String)>,
    },
}

fn unknown_axis_text(stage: &str, axis: &str, axes: &[String]) -> String {
    if axes.is_empty() {
        format!("`{stage}` is not swept (it has one instance), so it has no axis `{axis}`")
    } else {
        format!("`{stage}` has no axis `{axis}`")
    }
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
        coords
            .iter()
            .any(|(a, v)| a == axis && value_matches(v, want))
    })
}

/// Does coordinate value `v` match the written `want`? Numerically when both are numbers,
/// else as text.
fn value_matches(v: &Value, want: &str) -> bool {
    match (v.as_f64(), want.parse::<f64>().ok()) {
        (Some(x), Some(y)) => x == y,
        _ => value_text(v) == want,
    }
}

/// A coordinate value as a user writes it after `--at axis=` (strings unquoted).
fn value_text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
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
        return Err(no_match(plan, stage, filters));
    }
    Ok(nodes)
}

/// Why no instance of `stage` matches `filters`: the first filter naming an axis the
/// stage does not have, or a value its axis never takes; else the combination.
fn no_match(plan: &Plan, stage: &str, filters: &[(String, String)]) -> SelectError {
    let nodes = plan.nodes_of(stage);
    // The stage's axes in order, each with its values in order of first appearance.
    let mut axes: Vec<(&str, Vec<&Value>)> = Vec::new();
    for &i in &nodes {
        for (a, v) in &plan.nodes[i].coords {
            match axes.iter_mut().find(|(name, _)| name == a) {
                Some((_, values)) => {
                    if !values.iter().any(|w| warmstart_engine::same_value(w, v)) {
                        values.push(v);
                    }
                }
                None => axes.push((a, vec![v])),
            }
        }
    }
    for (axis, want) in filters {
        let Some((_, values)) = axes.iter().find(|(a, _)| a == axis) else {
            let names: Vec<&str> = axes.iter().map(|(a, _)| *a).collect();
            return SelectError::UnknownAxis {
                stage: stage.to_string(),
                axis: axis.clone(),
                axes: names.iter().map(|a| a.to_string()).collect(),
                hint: warmstart_spec::did_you_mean(axis, names.iter().copied()),
            };
        };
        if !values.iter().any(|v| value_matches(v, want)) {
            let texts: Vec<String> = values.iter().map(|v| value_text(v)).collect();
            return SelectError::NoValue {
                stage: stage.to_string(),
                axis: axis.clone(),
                value: want.clone(),
                hint: warmstart_spec::did_you_mean(want, texts.iter().map(String::as_str)),
                values: texts,
            };
        }
    }
    SelectError::NoMatch {
        stage: stage.to_string(),
        filters: filters.to_vec(),
    }
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
