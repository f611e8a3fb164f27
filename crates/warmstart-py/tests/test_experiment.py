"""The Python package end to end: status before and after a run, tables loaded with their
coordinates as columns (checked against the Parquet files `export` writes, read by
pyarrow), the errors a notebook sees, and the HTML a notebook shows."""

import json
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import warmstart

from conftest import REPO, TRAJECTORIES


def test_status_says_what_is_fresh_before_and_after_a_run(trajectories):
    exp = trajectories.experiment()
    assert exp.name == "mini-trajectories"
    assert exp.stages == ["problem", "init", "finetune", "summary"]

    before = exp.status()
    assert (len(before), before.fresh, before.stale) == (6, 0, 6)
    df = before.to_pandas()
    assert list(df.columns) == ["stage", "label", "r0", "status", "key", "reasons"]
    assert list(df.stage) == ["problem", "init", "init", "finetune", "finetune", "summary"]
    assert set(df.status) == {"stale"}
    assert df.r0.isna().tolist() == [True, False, False, False, False, True]
    assert sorted(df[df.stage == "finetune"].r0) == [0.0, 0.5]
    # Only `problem` has no inputs to wait for, so only its key is known before a run.
    assert df.key.notna().tolist() == [True, False, False, False, False, False]
    assert "new" in df.reasons[0]

    summary = exp.run(jobs=2, progress=False)
    assert (summary.ran, summary.cached, summary.failed, summary.skipped) == (6, 0, 0, 0)
    assert summary.success and summary.stages == 6 and summary.failures == []

    after = exp.status()
    assert (after.fresh, after.stale) == (6, 0)
    df = after.to_pandas()
    assert set(df.status) == {"fresh"}
    assert all(re.fullmatch("[0-9a-f]{64}", k) for k in df.key)
    assert set(df.reasons) == {""}

    again = exp.run(progress=False)
    assert (again.ran, again.cached) == (0, 6)


def test_load_gives_every_instance_with_coordinates_as_columns(trajectories, tmp_path):
    exp = trajectories.experiment()
    exp.run(progress=False)
    table = exp.load("finetune", table="trajectory")
    assert isinstance(table, pa.Table)
    assert table.column_names[:4] == ["r0", "step", "t", "dist2"]
    assert table.schema.field("r0").type == pa.float64()

    # The same data, independently: the Parquet files `export` writes, read by pyarrow.
    report = exp.export(tmp_path / "out")
    assert report["missing"] == []
    files = {
        e["coords"]["r0"]: e["files"]
        for e in report["exported"]
        if e["stage"] == "finetune"
    }
    assert sorted(files) == [0.0, 0.5]
    for r0, names in files.items():
        (name,) = [n for n in names if n.endswith("/trajectory.parquet")]
        exported = pq.read_table(tmp_path / "out" / name)
        # An exported file of a swept stage starts with its coordinates, as `load` does.
        assert exported.column_names[:1] == ["r0"]
        mine = table.filter(pc.equal(table["r0"], r0))
        assert mine.num_rows == exported.num_rows > 0
        assert mine.equals(exported.cast(mine.schema))

    df = table.to_pandas()
    assert sorted(df.r0.unique()) == [0.0, 0.5]
    # The two inits differ, so do their trajectories: the r0 column is not decoration.
    start = df[df.step == 0].set_index("r0").dist2
    assert start[0.0] == pytest.approx(2.0, abs=1e-9)  # ‖w0 − w*‖² = 2 − 2·r0
    assert start[0.5] == pytest.approx(1.0, abs=1e-9)

    only = exp.load("finetune", table="trajectory", at={"r0": 0.5})
    assert set(only.column("r0").to_pylist()) == {0.5}
    assert only.num_rows == table.num_rows // 2

    # The default table is the stage's first; a stage without axes has no coordinate column.
    assert exp.load("finetune").column_names == table.column_names
    assert "r0" not in exp.load("problem").column_names


def test_load_of_stages_that_must_run_names_them_and_the_command(trajectories):
    exp = trajectories.experiment()
    with pytest.raises(warmstart.StaleError) as err:
        exp.load("finetune", table="trajectory")
    message = str(err.value)
    assert "2 of 2 instances of `finetune` have no up-to-date output" in message
    assert "finetune[r0=0.0]" in message and "finetune[r0=0.5]" in message
    command = f"warmstart run {trajectories.file} --cache {trajectories.cache}"
    assert command in message
    assert err.value.command == command
    assert err.value.missing == ["finetune[r0=0.0]", "finetune[r0=0.5]"]
    assert isinstance(err.value, warmstart.Error)

    # Run, then change τ: both instances are stale again, and say why.
    exp.run(progress=False)
    trajectories.write(TRAJECTORIES.replace("TAU", "6"))
    with pytest.raises(warmstart.StaleError, match=r"tau.*5.*6"):
        exp.load("finetune", table="trajectory", at={"r0": 0.5})
    # A stage upstream of the change is still there.
    assert exp.load("init", at={"r0": 0.5}).num_rows > 0


def test_a_missing_stage_or_table_is_an_error_saying_what_there_is(trajectories):
    exp = trajectories.experiment()
    exp.run(progress=False)
    with pytest.raises(warmstart.Error, match="no stage `fintune`.*did you mean `finetune`"):
        exp.load("fintune")
    with pytest.raises(warmstart.Error, match="no output table `nope`; it has: trajectory"):
        exp.load("finetune", table="nope")
    with pytest.raises(
        warmstart.Error,
        match=r"axis `r0` of `finetune` has no value `0.25` "
        r"\(did you mean `0.5`\?; values of `r0`: 0.0, 0.5\)",
    ):
        exp.load("finetune", at={"r0": 0.25})


def test_an_invalid_file_raises_a_spec_error_with_file_line_and_column(project):
    file = project.write(
        """\
        [experiment]
        name = "broken"
        [stages.a]
        kind = "echo"
        valeu = "x"
        """
    )
    with pytest.raises(warmstart.SpecError) as err:
        warmstart.Experiment(file, cache=project.cache)
    message = str(err.value)
    assert f"{file}:5:1: " in message, message
    assert "valeu" in message and "did you mean `value`" in message
    (e,) = err.value.errors
    assert (e["path"], e["line"], e["column"]) == (str(file), 5, 1)
    assert isinstance(err.value, warmstart.Error)


def test_the_status_table_renders_as_escaped_html_and_text(project):
    project.write(
        """\
        [experiment]
        name = "html"
        [sweep]
        word = ["<b>bold</b>", "a&b"]
        [stages.a]
        kind = "echo"
        value = "${word}"
        """
    )
    exp = project.experiment()
    html = exp.status()._repr_html_()
    assert html.count("<tr>") == 3  # header + 2 instances
    assert "html: 2 instances — 0 fresh, 2 stale" in html
    assert "word=&lt;b&gt;bold&lt;/b&gt;" in html and "word=a&amp;b" in html
    assert "<b>bold</b>" not in html
    assert html.count(">stale</td>") == 2

    exp.run(progress=False)
    st = exp.status()
    html = st._repr_html_()
    assert html.count(">fresh</td>") == 2
    key = st.to_pandas().key[0]
    assert f'title="{key}">{key[:12]}</code>' in html

    text = repr(st)
    assert text.splitlines()[0] == "html: 2 instances — 2 fresh, 0 stale"
    assert re.search(r"^a\s+word=a&b\s+fresh\s+[0-9a-f]{12}$", text, re.M), text


def test_run_reports_progress_lines_or_events(trajectories, capsys):
    exp = trajectories.experiment()
    exp.run(jobs=1)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert sum(line.startswith("ran ") for line in lines) == 6, out
    assert any(re.match(r"ran\s+finetune\[r0=0\.5\]", line) for line in lines), out
    assert lines[-1].startswith("mini-trajectories: 6 stages — 6 ran, 0 cached, 0 failed")

    events = []
    summary = exp.run(progress=events.append)
    kinds = [e["event"] for e in events]
    assert kinds.count("stage") == 6 and kinds[-1] == "summary"
    assert all(e["v"] == 1 for e in events)
    assert {e["status"] for e in events if e["event"] == "stage"} == {"cached"}
    assert events[-1]["summary"]["cached"] == summary.cached == 6
    # Cached instances are counted, not printed, in the line form.
    exp.run()
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("mini-trajectories: 6 stages — 0 ran, 6 cached")


def test_a_failing_stage_is_in_the_summary_and_its_users_are_skipped(project):
    project.write(
        """\
        [experiment]
        name = "fails"
        [stages.a]
        kind = "echo"
        value = "A"
        fail = true
        [stages.b]
        kind = "echo"
        inputs = ["a"]
        value = "B"
        """
    )
    exp = project.experiment()
    summary = exp.run(progress=False)
    assert (summary.failed, summary.skipped, summary.success) == (1, 1, False)
    ((label, error),) = summary.failures
    assert label == "a" and "asked to fail" in error
    with pytest.raises(warmstart.StaleError, match="1 of 1 instances of `b`"):
        exp.load("b")


def test_an_exception_in_the_progress_callback_stops_the_run_and_propagates(trajectories):
    exp = trajectories.experiment()

    def boom(event):
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        exp.run(jobs=1, progress=boom)
    # Whatever finished is in the cache; the next run does the rest.
    summary = exp.run(progress=False)
    assert summary.ran + summary.cached == 6 and summary.success


def test_tables_cross_through_the_arrow_pycapsule_interface(trajectories):
    exp = trajectories.experiment()
    status = exp.status()
    assert pa.table(status).num_rows == 6
    reader = pa.RecordBatchReader.from_stream(status)
    assert reader.schema.names[:2] == ["stage", "label"]
    assert hasattr(status, "__arrow_c_stream__")


def test_the_cache_defaults_to_warmstart_cache_like_the_cli(trajectories, monkeypatch):
    monkeypatch.setenv("WARMSTART_CACHE", str(trajectories.cache))
    exp = warmstart.Experiment(trajectories.file)
    assert exp.cache == trajectories.cache
    exp.run(progress=False)
    assert trajectories.cache.is_dir()
    monkeypatch.delenv("WARMSTART_CACHE")
    monkeypatch.chdir(trajectories.root)
    assert str(warmstart.Experiment("exp.toml").cache) == "cache"


def test_a_shipped_experiment_runs_and_loads(tmp_path):
    exp = warmstart.Experiment(REPO / "experiments" / "quickstart.toml", cache=tmp_path)
    assert exp.run(progress=False).success
    square = exp.load("square").to_pandas()
    # `square` echoes x·x·n (n = 3) for x in 1..3, after the row it got from `hello`.
    own = square[square.source.str.startswith("square")]
    assert [int(v) for v in own.value] == [3 * x * x for x in own.x]
    assert sorted(own.x) == [1, 2, 3]
    json.dumps(exp.export(tmp_path / "out"))  # the report is plain data


def test_ctrl_c_stops_launching_stages_and_raises_once_the_running_ones_end(project):
    import _thread
    import signal
    import threading

    project.write(
        """\
        [experiment]
        name = "slow"
        [sweep]
        i = { range = [0, 6] }
        [stages.s]
        kind = "echo"
        value = "${i}"
        sleep_ms = 300
        """
    )
    exp = project.experiment()
    # interrupt_main does nothing while SIGINT is ignored, which is how a process started
    # in the background by a non-interactive shell (`cmd &`, nohup) inherits it: restore
    # Python's own handler for the test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # What a Ctrl-C in a terminal or "interrupt kernel" in Jupyter does to the main thread.
        threading.Timer(0.45, _thread.interrupt_main).start()
        with pytest.raises(KeyboardInterrupt):
            exp.run(jobs=1, progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    st = exp.status()
    # One-at-a-time stages of 300 ms: one or two finished and are kept, the rest never started.
    assert 1 <= st.fresh <= 3 and st.stale == 6 - st.fresh
    rest = exp.run(jobs=2, progress=False)
    assert (rest.ran, rest.cached) == (st.stale, st.fresh)
