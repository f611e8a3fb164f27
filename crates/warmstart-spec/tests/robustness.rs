//! Hostile or odd inputs must give errors (or results), never panics or stack overflows.

use warmstart_spec::{SourceFile, expand, parse};

fn run(text: &str) {
    let src = SourceFile {
        path: "x.toml".into(),
        text: text.into(),
    };
    if let Ok(exp) = parse(src) {
        let _ = expand(&exp);
    }
}

const HEAD: &str = "[experiment]\nname = \"x\"\n[stages.s]\nkind = \"k\"\n";

#[test]
fn deep_parens() {
    run(&format!(
        "{HEAD}v = \"${{{}1{}}}\"\n",
        "(".repeat(5000),
        ")".repeat(5000)
    ));
}

#[test]
fn deep_unary() {
    run(&format!("{HEAD}v = \"${{{}1}}\"\n", "-".repeat(5000)));
}

#[test]
fn deep_power() {
    run(&format!("{HEAD}v = \"${{{}2}}\"\n", "2 ** ".repeat(5000)));
}

#[test]
fn long_sum() {
    run(&format!(
        "{HEAD}v = \"${{{}}}\"\n",
        "1 + ".repeat(5000) + "1"
    ));
}

#[test]
fn deep_toml() {
    run(&format!(
        "{HEAD}v = {}1{}\n",
        "[".repeat(3000),
        "]".repeat(3000)
    ));
    let keys: Vec<String> = (0..3000).map(|i| format!("k{i}")).collect();
    run(&format!("{HEAD}{} = 1\n", keys.join(".")));
    run(&format!(
        "[experiment]\nname = \"x\"\n[stages.s.{}]\nkind = \"k\"\n",
        keys.join(".")
    ));
}

#[test]
fn odd_inputs() {
    let cases = [
        "",
        "\u{feff}",
        "[experiment]\nname = \"é\"\n",
        "[experiment]\nname = 1\n[stages]\ns = []\n",
        &format!("{HEAD}v = \"${{\u{e9}}}\"\n"),
        &format!("{HEAD}v = \"\\u00e9 ${{1 +}}\"\n"),
        &format!("{HEAD}v = \"\"\"\n${{1 + }}\"\"\"\n"),
        &format!("{HEAD}v = '${{9223372036854775807 * 2}}'\n"),
        &format!("{HEAD}v = \"${{-9223372036854775807 - 1 // -1}}\"\n"),
        &format!("{HEAD}v = \"${{(-9223372036854775807 - 1) % -1}}\"\n"),
        &format!("{HEAD}v = \"${{int(1e300)}} ${{round(nan)}} ${{exp(1000)}}\"\n"),
        &format!("{HEAD}v = \"${{99999999999999999999}}\"\n"),
        &format!("{HEAD}v = 1979-05-27\n"),
        &format!("{HEAD}v = nan\nw = inf\n"),
        "[experiment]\nname = \"x\"\n[sweep]\na = { linspace = [0, 1e308, 3] }\nb = { logspace = [0, 400, 2] }\nc = { range = [9223372036854775806, 9223372036854775807, 5] }\nd = [nan, nan]\n[stages.s]\nkind = \"k\"\nsweep = [\"a\", \"c\", \"d\"]\n",
        "[experiment]\nname = \"x\"\n[sweep]\na = { range = [-9223372036854775808, 9223372036854775807, 9223372036854775807] }\n[stages.s]\nkind = \"k\"\nsweep = [\"a\"]\n",
        "[experiment]\nname = \"x\"\n[stages.a]\nkind = \"k\"\ninputs = [{ pick = 3 }, { stage = 3 }, {}]\n",
    ];
    for c in cases {
        run(c);
    }
}

#[test]
fn errors_render_without_panicking() {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor());
    for text in [
        format!("{HEAD}v = \"${{\u{e9}}}\"\n"),
        format!("{HEAD}v = \"\u{e9}\u{e9} ${{1 + é}}\"\n"),
        "é = [".to_string(),
    ] {
        let src = SourceFile {
            path: "x.toml".into(),
            text,
        };
        let err = parse(src).expect_err("invalid");
        let mut out = String::new();
        handler.render_report(&mut out, &err).expect("renders");
        assert!(out.contains("x.toml"));
    }
}
