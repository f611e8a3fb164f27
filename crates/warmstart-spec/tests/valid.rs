//! Valid example files parse and expand as documented.

use std::path::Path;

use warmstart_engine::Value;
use warmstart_spec::{expand, load};

fn dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn sweep_example() {
    let exp = load(&dir().join("tests/valid/sweep.toml")).expect("valid");
    assert_eq!(exp.name, "exp1-alignment");
    assert_eq!(exp.seed, 42);
    let names: Vec<&str> = exp.params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["d", "n", "label"], "`scaled` depends on an axis");
    assert_eq!(exp.params[1].1.value, Value::Int(800));
    assert_eq!(exp.params[2].1.value, Value::Str("run-200".into()));
    let x = expand(&exp).expect("expands");
    assert_eq!(
        x.stage_axes,
        vec![
            vec!["rep".to_string()],
            vec!["alpha".into(), "rep".into()],
            vec!["alpha".into(), "rep".into(), "lam".into()],
            vec!["lam".into()],
        ]
    );
    let count = |s: usize| x.instances.iter().filter(|i| i.stage == s).count();
    assert_eq!((count(0), count(1), count(2), count(3)), (2, 6, 12, 2));
    // Inputs come before users.
    for (i, inst) in x.instances.iter().enumerate() {
        assert!(inst.inputs.iter().all(|&j| j < i));
    }
    let data0 = &x.instances[0];
    assert_eq!(data0.params.get("value").unwrap().value, Value::Int(800));
    assert_eq!(
        data0.params.get("tag").unwrap().value,
        Value::Str("${literal}".into())
    );
    // strong gets weak at the same (alpha, rep) and data at rep = 1.
    let strong = x
        .instances
        .iter()
        .find(|i| {
            i.stage == 2 && i.coords[0].1 == Value::Float(0.5) && i.coords[1].1 == Value::Int(0)
        })
        .expect("instance");
    assert_eq!(strong.input_stage, vec![0, 1]);
    let weak = &x.instances[strong.inputs[0]];
    assert_eq!(
        weak.coords,
        vec![
            ("alpha".into(), Value::Float(0.5)),
            ("rep".into(), Value::Int(0))
        ]
    );
    let data = &x.instances[strong.inputs[1]];
    assert_eq!(data.coords, vec![("rep".into(), Value::Int(1))]);
    // summary gathers alpha × rep: 6 inputs per lam value.
    let summary: Vec<_> = x.instances.iter().filter(|i| i.stage == 3).collect();
    assert_eq!(summary[0].inputs.len(), 6);
    assert_eq!(summary[1].coords, vec![("lam".into(), Value::Float(1.5))]);
    for &j in &summary[1].inputs {
        assert_eq!(x.instances[j].coords[2].1, Value::Float(1.5));
    }
    let weak0 = x.instances.iter().find(|i| i.stage == 1).expect("weak");
    assert_eq!(
        weak0.params.get("nested").unwrap().value.to_string(),
        "{a = [66, \"x-0.0\"]}"
    );
}

#[test]
fn minimal_example_keeps_file_order() {
    let exp = load(&dir().join("tests/valid/minimal.toml")).expect("valid");
    let names: Vec<&str> = exp.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha"]);
    assert_eq!(exp.seed, 0);
    assert_eq!(exp.stages[1].gpu, Some(Value::Int(1)));
    assert_eq!(exp.stages[1].threads, Some(4));
    assert_eq!(exp.stages[1].description, "second stage");
    let x = expand(&exp).expect("expands");
    assert_eq!(x.instances.len(), 2);
    assert_eq!(x.instances[0].stage, 0);
    assert_eq!(x.instances[1].inputs, vec![0]);
    assert_eq!(
        x.instances[0].params.get("value").unwrap().value,
        Value::Str("hello ${not-an-expression}".into())
    );
}

#[test]
fn axis_forms_example() {
    let exp = load(&dir().join("tests/valid/forms.toml")).expect("valid");
    let axes: Vec<(&str, Vec<String>)> = exp
        .axes
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.values.iter().map(|v| v.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        axes,
        vec![
            (
                "delta",
                vec!["0.01".to_string(), "0.1".into(), "1.0".into()]
            ),
            ("mode", vec!["\"fast\"".into(), "\"slow\"".into()]),
            ("k", vec!["10".into(), "5".into()]),
        ]
    );
    assert_eq!(exp.params[1].1.value, Value::Float(5.0));
    let x = expand(&exp).expect("expands");
    assert_eq!(x.stage_axes[0], ["delta", "mode", "k"]);
    assert_eq!(x.stage_axes[1], ["k"]);
    let gen_last = x.instances.iter().rfind(|i| i.stage == 0).expect("gen");
    assert_eq!(gen_last.params.get("x").unwrap().value, Value::Float(10.0));
    assert_eq!(
        gen_last.params.get("tag").unwrap().value,
        Value::Str("slow".into())
    );
    assert_eq!(
        gen_last.params.get("list").unwrap().value,
        Value::List(vec![Value::Int(25), Value::Float(1.5), Value::Bool(true)])
    );
    for b in x.instances.iter().filter(|i| i.stage == 1) {
        assert_eq!(b.inputs.len(), 1);
        let g = &x.instances[b.inputs[0]];
        assert_eq!(g.coords[0].1, Value::Float(1.0));
        assert_eq!(g.coords[1].1, Value::Str("slow".into()));
        assert_eq!(g.coords[2], b.coords[0]);
    }
}

#[test]
fn unreadable_file_is_a_spec_error() {
    let err = load(Path::new("does/not/exist.toml")).expect_err("missing file");
    assert_eq!(err.0.len(), 1);
    assert_eq!(err.0[0].code, "spec::io");
    assert_eq!(err.to_string(), "1 error in does/not/exist.toml");
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut out, &err)
        .expect("renders");
    assert!(out.contains("cannot read experiment file does/not/exist.toml"));
}

#[test]
fn seed_expressions_give_one_seed_per_sweep_point() {
    let text = r#"
[experiment]
name = "seeds"
seed = 5

[sweep]
rep = [0, 1, 2]
rho = [0.2, 0.8]

[stages.gen]
kind = "echo"
seed = "${100 + rep}"

[stages.fixed]
kind = "echo"
seed = 7

[stages.derived]
kind = "echo"
inputs = ["gen"]
"#;
    let exp = warmstart_spec::parse(warmstart_spec::SourceFile {
        path: "seeds.toml".into(),
        text: text.into(),
    })
    .expect("valid");
    let x = expand(&exp).expect("expands");
    // The expression's axis becomes the stage's axis, and not `rho`, which it does not use.
    assert_eq!(x.stage_axes[0], vec!["rep".to_string()]);
    let seeds = |stage: usize| -> Vec<Option<u64>> {
        x.instances
            .iter()
            .filter(|i| i.stage == stage)
            .map(|i| i.seed)
            .collect()
    };
    assert_eq!(seeds(0), vec![Some(100), Some(101), Some(102)]);
    assert_eq!(seeds(1), vec![Some(7)]);
    assert_eq!(
        seeds(2),
        vec![None, None, None],
        "no explicit seed: derived later"
    );
}
