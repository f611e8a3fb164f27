"""warmstart from Python: open an experiment file against a cache, see what is fresh, run
it with the same engine as the ``warmstart`` command, and load a stage's outputs as a
``pyarrow.Table`` (coordinates as columns), without copying the data.

>>> import warmstart
>>> exp = warmstart.Experiment("experiments/exp2-trajectories.toml")  # cache: $WARMSTART_CACHE or ./cache
>>> exp.status()                      # a table in a notebook; .to_pandas() for the data
>>> exp.run(jobs=2)                   # a line per finished stage, then a RunSummary
>>> df = exp.load("finetune", table="trajectory").to_pandas()   # one column per axis (r0)

Errors are ``warmstart.Error`` subclasses: ``SpecError`` (invalid experiment file,
file:line:col per problem), ``StaleError`` (``load`` of instances that must run first; the
message names them and the command that makes them) and ``CacheError``.
"""

from ._native import (
    ArrowStream,
    CacheError,
    Error,
    Experiment,
    RunSummary,
    SpecError,
    StaleError,
    StatusTable,
    __version__,
)

__all__ = [
    "ArrowStream",
    "CacheError",
    "Error",
    "Experiment",
    "RunSummary",
    "SpecError",
    "StaleError",
    "StatusTable",
    "__version__",
]
