"""Shared fixtures: small experiment files in a temporary directory, each with its own
cache, so tests never touch the repository's ./cache."""

import pathlib
import textwrap

import pytest

# A miniature of experiments/exp2-trajectories.toml: the same stages, d = 20 and τ = 5
# (100 steps), so a run takes well under a second even in a debug build.
TRAJECTORIES = """\
[experiment]
name = "mini-trajectories"
seed = 2

[params]
d = 20

[sweep]
r0 = [0.0, 0.5]

[stages.problem]
kind = "generate"
seed = 11
d = "${d}"
alpha = 0.6
rho = 0.6
lambda = 3.0

[stages.init]
kind = "pretrain"
inputs = ["problem"]
method = "fixed"
r0 = "${r0}"

[stages.finetune]
kind = "finetune"
inputs = ["init"]
delta = 1e-3
tau = TAU

[stages.summary]
kind = "aggregate"
inputs = ["finetune"]
gather = ["r0"]
table = "trajectory"
"""

REPO = pathlib.Path(__file__).resolve().parents[3]


class Project:
    """An experiment file and a cache under one temporary directory."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.file = root / "exp.toml"
        self.cache = root / "cache"

    def write(self, text: str) -> pathlib.Path:
        self.file.write_text(textwrap.dedent(text))
        return self.file

    def experiment(self):
        import warmstart

        return warmstart.Experiment(self.file, cache=self.cache)


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path)


@pytest.fixture
def trajectories(project):
    """The miniature trajectory experiment, not run yet."""
    project.write(TRAJECTORIES.replace("TAU", "5"))
    return project
