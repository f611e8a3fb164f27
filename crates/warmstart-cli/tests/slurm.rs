//! The Slurm executor on a real one-node Slurm (tests/slurm/cluster.sh starts it; `.ci/run`
//! does so before the tests). Without Slurm these tests say they are skipped and why —
//! except under `CI=true`, where a missing cluster is a failure.
//!
//! They share one cluster (and one test restarts its controller), so they run one at a
//! time, under a lock.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Project, events, stderr, stdout, with_status};

static CLUSTER: Mutex<()> = Mutex::new(());

fn cluster_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/slurm/cluster.sh")
}

/// Whether a Slurm controller answers; panics under CI=true when it does not.
fn slurm_up() -> bool {
    let up = Command::new("timeout")
        .args(["10", "scontrol", "ping"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("UP"));
    if !up {
        let why = "no Slurm controller answers `scontrol ping` (start one with `bash tests/slurm/cluster.sh start`)";
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {why}"
        );
        eprintln!("skipped: {why}");
    }
    up
}

/// The `[executor]` table of the tests: Slurm, polling every second. The test cluster has
/// one node, so a cache on a node-local path is allowed (a clone of the repository may
/// well live under /tmp); `missing_sbatch_and_a_node_local_cache_…` checks the refusal.
const EXECUTOR: &str =
    "root = true\n[executor]\nkind = \"slurm\"\npoll_interval = 1\nallow_node_local_cache = true\n";

/// A project whose warmstart.toml selects Slurm.
fn project(experiment: &str) -> Project {
    let p = Project::on_shared_disk();
    p.write("warmstart.toml", EXECUTOR);
    p.write("e.toml", experiment);
    p
}

/// Job ids submitted for experiment files in this cache (one per sbatch call).
fn sbatch_calls(p: &Project) -> usize {
    let dir = p.cache().join("v1/jobs/ledger");
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("exp-"))
                .map(|e| {
                    let v: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
                    v["jobs"].as_array().map_or(0, Vec::len)
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Output digest of every entry in the cache, by key.
fn digests(cache: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = common::entry_dirs(cache)
        .iter()
        .map(|d| {
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
            (
                d.file_name().unwrap().to_string_lossy().into_owned(),
                m["output_digest"].to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spawn_run(p: &Project) -> Child {
    p.cmd(&["run", "e.toml", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

/// The job (`123` or `123_4`) the ledger names for the instance whose spec has this label.
fn job_of(p: &Project, label: &str) -> Option<String> {
    let specs = p.cache().join("v1/jobs/specs");
    for e in std::fs::read_dir(specs).ok()?.filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("tasks-") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
        if v["label"] == label {
            let l = std::fs::read(p.cache().join("v1/jobs/ledger").join(&name)).ok()?;
            let l: serde_json::Value = serde_json::from_slice(&l).ok()?;
            return l["job"].as_str().map(str::to_string);
        }
    }
    None
}

const SWEEP: &str = r#"
[experiment]
name = "slurm-sweep"
seed = 3
[sweep]
a = [1, 2, 3, 4, 5, 6]
[stages.gen]
kind = "echo"
local = false
value = "g${a}"
[stages.map]
kind = "echo"
local = false
inputs = ["gen"]
value = "m${a}"
[stages.all]
kind = "echo"
local = false
inputs = ["map"]
gather = ["a"]
value = "all"
"#;

#[test]
fn a_sweep_with_fan_in_runs_each_instance_once_with_the_outputs_of_a_local_run() {
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let p = project(SWEEP);
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(with_status(&ev, "ran").len(), 13, "{ev:?}");
    assert_eq!(ev.len(), 13, "every instance reported once: {ev:?}");
    // Arrays: one sbatch per stage (gen array, map array after corresponding tasks, all).
    assert_eq!(sbatch_calls(&p), 3);
    let submitted = stdout(&out)
        .lines()
        .filter(|l| l.contains("\"submitted\""))
        .count();
    assert_eq!(submitted, 13);
    // The same file run locally gives the same keys and the same output digests.
    let local = Project::on_shared_disk();
    local.write("warmstart.toml", "root = true\n");
    local.write("e.toml", SWEEP);
    let (lev, lout) = local.run_json("e.toml");
    assert!(lout.status.success(), "{}", stderr(&lout));
    assert_eq!(with_status(&lev, "ran").len(), 13);
    assert_eq!(digests(&p.cache()), digests(&local.cache()));
    // A no-op re-run submits nothing.
    let (again, out) = p.run_json("e.toml");
    assert!(out.status.success());
    assert_eq!(with_status(&again, "cached").len(), 13);
    assert_eq!(sbatch_calls(&p), 3);
    // `why` names an instance's job; gc keeps the job files of live experiments and
    // removes those of finished jobs nothing refers to.
    let why = p.run(&["why", "e.toml", "all"]);
    assert!(stdout(&why).contains("cluster job"), "{}", stdout(&why));
    let gc = p.run(&["gc", "e.toml"]);
    assert!(!stdout(&gc).contains("cluster job"), "{}", stdout(&gc));
    let gc = p.run(&["gc", "--apply"]);
    assert!(gc.status.success(), "{}", stderr(&gc));
    assert!(
        stdout(&gc).contains("removed  13 finished cluster job(s)"),
        "{}",
        stdout(&gc)
    );
    let left = std::fs::read_dir(p.cache().join("v1/jobs/status"))
        .unwrap()
        .count();
    assert_eq!(left, 0);
    let logs = std::fs::read_dir(p.cache().join("v1/jobs/logs"))
        .unwrap()
        .count();
    assert_eq!(logs, 0);
}

#[test]
fn a_failed_job_cancels_its_downstream_and_the_fix_resubmits_only_that_part() {
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let text = r#"
[experiment]
name = "slurm-fail"
[sweep]
a = [1, 2, 3]
[stages.good]
kind = "echo"
local = false
value = "g${a}"
[stages.bad]
kind = "echo"
local = false
value = "b"
fail = true
[stages.down]
kind = "echo"
local = false
inputs = ["bad"]
value = "d"
"#;
    let p = project(text);
    let (ev, out) = p.run_json("e.toml");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(with_status(&ev, "failed"), ["bad"]);
    assert_eq!(with_status(&ev, "skipped"), ["down"]);
    assert_eq!(with_status(&ev, "ran").len(), 3);
    let failure = stdout(&out)
        .lines()
        .find(|l| l.contains("\"failed\""))
        .unwrap()
        .to_string();
    assert!(
        failure.contains("Slurm job") && failure.contains(".log"),
        "{failure}"
    );
    // `down` never ran: Slurm cancelled its job (afterok on a failed job).
    let down = job_of(&p, "down").expect("down was submitted");
    assert!(!p.cache().join(format!("v1/jobs/logs/{down}.log")).exists());
    let before = sbatch_calls(&p);
    p.write("e.toml", &text.replace("fail = true", "fail = false"));
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(with_status(&ev, "ran"), ["bad", "down"]);
    assert_eq!(with_status(&ev, "cached").len(), 3);
    assert_eq!(
        sbatch_calls(&p) - before,
        2,
        "only bad and down were submitted again"
    );
}

const SLOW: &str = r#"
[experiment]
name = "slurm-slow"
[sweep]
a = [1, 2]
[stages.slow]
kind = "echo"
local = false
value = "s${a}"
sleep_ms = 4000
[stages.all]
kind = "echo"
local = false
inputs = ["slow"]
gather = ["a"]
value = "all"
"#;

#[test]
fn a_killed_submitter_is_reattached_without_submitting_anything_again() {
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let p = project(SLOW);
    let mut child = spawn_run(&p);
    wait_for("the submission", Duration::from_secs(30), || {
        sbatch_calls(&p) == 2
    });
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(with_status(&ev, "ran").len(), 3, "{ev:?}");
    assert_eq!(sbatch_calls(&p), 2, "the re-run adopted the queued jobs");
}

#[test]
fn a_run_survives_a_controller_restart() {
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let p = project(SLOW);
    let child = spawn_run(&p);
    wait_for("the submission", Duration::from_secs(30), || {
        sbatch_calls(&p) == 2
    });
    let restart = Command::new("bash")
        .arg(cluster_script())
        .arg("restart-ctld")
        .output()
        .unwrap();
    assert!(restart.status.success(), "{}", stderr(&restart));
    let out = finish(child);
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = events(&out);
    assert_eq!(with_status(&ev, "ran").len(), 3, "{ev:?}\n{}", stderr(&out));
}

#[test]
fn a_job_cancelled_while_running_fails_and_only_it_is_recomputed() {
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let text = SLOW.replace("sleep_ms = 4000", "sleep_ms = 6000");
    let p = project(&text);
    let child = spawn_run(&p);
    wait_for("the submission", Duration::from_secs(30), || {
        sbatch_calls(&p) == 2
    });
    let job = job_of(&p, "slow[a=1]").unwrap();
    let log = p.cache().join(format!("v1/jobs/logs/{job}.log"));
    wait_for("the job to start", Duration::from_secs(30), || log.exists());
    let c = Command::new("scancel").arg(&job).output().unwrap();
    assert!(c.status.success());
    let out = finish(child);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ev = events(&out);
    assert_eq!(with_status(&ev, "failed"), ["slow[a=1]"], "{ev:?}");
    let failure = stdout(&out)
        .lines()
        .find(|l| l.contains("\"failed\""))
        .unwrap()
        .to_string();
    assert!(
        failure.contains("cancelled") && failure.contains(&job),
        "{failure}"
    );
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(with_status(&ev, "ran"), ["all", "slow[a=1]"]);
    assert_eq!(with_status(&ev, "cached"), ["slow[a=2]"]);
}

#[test]
fn detach_then_status_then_reattach_and_cancel() {
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let p = project(SLOW);
    let out = p.run(&["run", "e.toml", "--detach"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("submitted slow: Slurm job") && text.contains("(array)"),
        "{text}"
    );
    assert!(text.contains("detached"), "{text}");
    let st = p.run(&["status", "e.toml"]);
    assert!(st.status.success(), "{}", stderr(&st));
    assert!(stdout(&st).contains("queued"), "{}", stdout(&st));
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    // On a loaded machine a job may finish before the run looks: then it is `cached`.
    assert_eq!(
        with_status(&ev, "ran").len() + with_status(&ev, "cached").len(),
        3,
        "{ev:?}"
    );
    // What is under test: the re-run adopted the queued jobs (no sbatch) and reports
    // every instance done; whether one had finished before it looked depends on load.
    assert_eq!(sbatch_calls(&p), 2, "reattached: nothing submitted again");
    let st = p.run(&["status", "e.toml"]);
    assert!(stdout(&st).contains("3 fresh"), "{}", stdout(&st));
    // Cancel: a new detached submission, then `cancel` removes it from the queue.
    p.write(
        "e.toml",
        &SLOW
            .replace("value = \"all\"", "value = \"all2\"")
            .replace("s${a}", "t${a}"),
    );
    let out = p.run(&["run", "e.toml", "--detach"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = p.run(&["cancel", "e.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("cancelled Slurm job(s)"),
        "{}",
        stdout(&out)
    );
    wait_for("the queue to empty", Duration::from_secs(30), || {
        let st = p.run(&["status", "e.toml"]);
        !stdout(&st).contains("queued")
    });
}

#[test]
fn missing_sbatch_and_a_node_local_cache_are_errors_before_submission() {
    let p = project(SWEEP);
    let out = p
        .cmd(&["run", "e.toml"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`sbatch` is not on PATH"),
        "{}",
        stderr(&out)
    );
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let local = Project::new(); // under /tmp
    local.write(
        "warmstart.toml",
        "root = true\n[executor]\nkind = \"slurm\"\n",
    );
    local.write("e.toml", SWEEP);
    let out = local.run(&["run", "e.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("node-local"), "{}", stderr(&out));
    assert!(
        !local.cache().join("v1/jobs/ledger").exists(),
        "nothing submitted"
    );
    let bad = project(&SWEEP.replace(
        "local = false\nvalue = \"g${a}\"",
        "local = false\npartition = \"nosuch\"\nvalue = \"g${a}\"",
    ));
    let out = bad.run(&["run", "e.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Slurm refused the jobs of stage `gen`"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sbatch_calls(&bad), 0);
}

#[test]
fn local_stages_run_here_and_max_submitted_caps_the_queue() {
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let p = project(
        r#"
[experiment]
name = "slurm-mixed"
[sweep]
a = [1, 2, 3, 4, 5]
[stages.gen]
kind = "echo"
local = false
value = "g${a}"
[stages.agg]
kind = "echo"
inputs = ["gen"]
gather = ["a"]
value = "agg"
[stages.post]
kind = "echo"
local = false
inputs = ["agg"]
value = "post"
"#,
    );
    p.write("warmstart.toml", &format!("{EXECUTOR}max_submitted = 2\n"));
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(with_status(&ev, "ran").len(), 7, "{ev:?}");
    // `agg` (an echo stage, local by default) ran here: it has no job.
    assert_eq!(job_of(&p, "agg"), None);
    assert!(job_of(&p, "post").is_some());
    // No sbatch call submitted more than two tasks.
    let specs = p.cache().join("v1/jobs/specs");
    let mut lists = 0;
    for e in std::fs::read_dir(specs).unwrap().filter_map(Result::ok) {
        if e.file_name().to_string_lossy().starts_with("tasks-") {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            assert!(v["tasks"].as_array().unwrap().len() <= 2, "{v}");
            lists += 1;
        }
    }
    assert!(
        lists >= 4,
        "5 gen tasks in calls of at most 2, then post: {lists}"
    );
}

#[test]
fn cluster_hints_never_change_a_key() {
    let p = Project::on_shared_disk();
    p.write("warmstart.toml", "root = true\n");
    p.write("e.toml", SWEEP);
    let (ev, out) = p.run_json("e.toml");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(with_status(&ev, "ran").len(), 13);
    let hinted = SWEEP.replace(
        "value = \"m${a}\"",
        "mem = \"4G\"\ntime = \"01:00:00\"\npartition = \"gpu\"\nthreads = 2\nvalue = \"m${a}\"",
    );
    assert_ne!(hinted, SWEEP);
    let hinted = hinted.replace(
        "[stages.all]\nkind = \"echo\"\nlocal = false",
        "[stages.all]\nkind = \"echo\"\nlocal = true",
    );
    p.write("e.toml", &hinted);
    let plan = p.run(&["plan", "e.toml"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert!(
        stdout(&plan).contains("13 fresh, 0 to run"),
        "{}",
        stdout(&plan)
    );
}

#[test]
fn two_concurrent_runs_of_one_experiment_submit_its_jobs_once() {
    let _g = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    if !slurm_up() {
        return;
    }
    let p = project(SLOW);
    let first = spawn_run(&p);
    let second = spawn_run(&p);
    let (a, b) = (finish(first), finish(second));
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
    assert_eq!(
        sbatch_calls(&p),
        2,
        "the second run adopted the first one's jobs"
    );
    for out in [&a, &b] {
        let ev = events(out);
        assert_eq!(ev.len(), 3, "{ev:?}");
        assert!(with_status(&ev, "failed").is_empty(), "{ev:?}");
    }
}
