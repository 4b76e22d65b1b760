"""Reproducible benchmarks of Tessera's hot paths (``bench/run.sh``; see bench/README.md)."""
