"""Benchmarks: each prints its figures; run with `.venv/bin/python -m bench.NAME --help`."""
