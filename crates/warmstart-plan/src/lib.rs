//! Planner and scheduler: checks an experiment against engine schemas, computes keys, runs the DAG in parallel against the cache.
