"""Benchmarks: each prints its figures; run with `.venv/bin/python -m bench.NAME --help`."""

from engine.offline import seal_environment

seal_environment()  # `python -m bench.NAME` loads this first: the benchmarks' embedders never call home either
