"""Side-by-side benchmarks against the baselines (run with ``python -m benchmarks.run_all``)."""
