"""Running trials: in this process (local.py), from a spec file on any machine (worker.py); each
trial's results are a self-contained shard (shard.py) merged into the run folder (merge.py)."""
