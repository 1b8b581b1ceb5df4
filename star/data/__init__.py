"""Clip banks, zero-shot benchmarks (class splits + sample protocols), NTU/PKU preparation.

Importing this package is cheap (numpy only, no torch).
"""

from star.data.benchmarks import Benchmark, default_data_dir, get_benchmark, list_benchmarks
from star.data.clipbank import ClipBank

__all__ = ["Benchmark", "ClipBank", "default_data_dir", "get_benchmark", "list_benchmarks"]
