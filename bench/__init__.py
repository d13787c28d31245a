"""Runnable benchmarks. Each prints its figures and a ratio against a raw baseline measured in the same run."""
