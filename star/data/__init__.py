"""Clip banks, zero-shot benchmarks (class splits + sample protocols), NTU/PKU preparation.

Importing this package is cheap (numpy only, no torch).
"""

from star.data.benchmarks import Benchmark, default_data_dir, get_benchmark, list_benchmarks
from star.data.clipbank import ClipBank, is_clip_bank

__all__ = ["Benchmark", "ClipBank", "default_data_dir", "get_benchmark", "is_clip_bank", "list_benchmarks"]
