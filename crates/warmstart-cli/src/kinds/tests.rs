//! The renderers on a made-up kind that declares one of everything (the built-in kinds
//! declare what their engines' authors wrote; this pins how each declaration reads).

use warmstart::kinds::{
    ColumnRef, Determinism, Extra, InputSpec, KindEntry, KindSpec, ParamSpec, ParamType, TableSpec,
};

use super::{markdown, text};

fn everything() -> KindEntry {
    let spec = KindSpec {
        name: "chart".into(),
        doc: "Draw a chart of a table | with a pipe.\nA second line.".into(),
        params: vec![
            ParamSpec::string("table", "The input table").default("summary"),
            ParamSpec::string("y", "Columns to draw")
                .names_column(ColumnRef::of("table").list().or_coordinate()),
            ParamSpec::string("baseline", "A horizontal line")
                .default("")
                .names_column(ColumnRef::of("table").or_number()),
            ParamSpec::float("alpha", "Opacity")
                .default(0.5)
                .range(0.0, 1.0),
            ParamSpec::float("eps", "Tolerance")
                .default(1e-9)
                .min(1e-12),
            ParamSpec::int("dpi", "Resolution")
                .default(100i64)
                .max(1200.0),
            ParamSpec::string("style", "Line style")
                .default("solid")
                .choices(&["solid", "dashed"]),
            ParamSpec::list("ticks", ParamType::Float, "Tick positions").default(
                warmstart::Value::List(vec![
                    warmstart::Value::Float(0.0),
                    warmstart::Value::Int(1),
                ]),
            ),
            ParamSpec::int("batch", "Rows per batch")
                .default(64i64)
                .not_in_key(),
        ],
        determinism: Determinism::Seeded,
        min_inputs: 1,
        max_inputs: Some(3),
        reads: vec![
            InputSpec::new("summary", &["aggregate", "evaluate"], "What is drawn")
                .col("alpha", "float64", "An axis"),
            InputSpec::new("the table named by `table`", &[], ""),
        ],
        writes: vec![
            TableSpec::new("files", "The figure")
                .col("path", "utf8", "File name")
                .col("data", "binary", ""),
            TableSpec::new("points", "What was drawn")
                .col("y", "float64", "")
                .extra(Extra::Coordinates)
                .extra(Extra::InputColumns {
                    table_param: "table".into(),
                })
                .open("one column per series")
                .when("`points = true`"),
        ],
    };
    KindEntry {
        engine: "mine".into(),
        engine_id: "mine".into(),
        engine_version: "3".into(),
        builtin: false,
        default: false,
        spec,
    }
}

fn nothing() -> KindEntry {
    KindEntry {
        engine: "native".into(),
        engine_id: "native".into(),
        engine_version: "1".into(),
        builtin: true,
        default: true,
        spec: KindSpec {
            name: "noop".into(),
            doc: "Nothing declared.".into(),
            params: vec![],
            determinism: Determinism::Volatile,
            min_inputs: 0,
            max_inputs: None,
            reads: vec![],
            writes: vec![],
        },
    }
}

#[test]
fn every_declaration_reads_in_plain_text() {
    let mut lines = text::kind(&everything());
    lines.push(String::new());
    lines.extend(text::kind(&nothing()));
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn every_declaration_reads_in_markdown() {
    insta::assert_snapshot!(markdown::reference(&[nothing(), everything()], true));
}

#[test]
fn the_list_aligns_names_and_engines() {
    insta::assert_snapshot!(text::list(&[nothing(), everything()]).join("\n"));
}
