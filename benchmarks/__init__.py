"""Benchmarks for fxsocket-async: ``python -m benchmarks`` (see benchmarks/README.md)."""
