"""The fuzz targets of tests/fuzz (every reader of untrusted bytes) on mutated seeds, in the suite: each input gives
the reader's one documented error or a sound result, never another exception (hypothesis; atheris runs the same
targets coverage-guided: tests/fuzz/run.py, docs/SECURITY.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
from targets import TARGETS, seeds  # noqa: E402

from conftest import sometimes_truncated  # noqa: E402


@pytest.fixture(scope="module")
def seed_bytes():
    return {name: seeds(name) for name in TARGETS}


@pytest.mark.parametrize("name", list(TARGETS))
def test_the_seeds_are_read(name, seed_bytes):
    for data in seed_bytes[name]:
        TARGETS[name](data)


@pytest.mark.parametrize("name", list(TARGETS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_inputs_give_only_the_documented_error(name, seed_bytes, data):
    raw = bytearray(data.draw(st.sampled_from(seed_bytes[name])))
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        if data.draw(st.booleans()):
            raw[i] = data.draw(st.integers(0, 255))
        else:
            raw[i:i] = data.draw(st.binary(min_size=1, max_size=8))
    TARGETS[name](sometimes_truncated(data.draw, bytes(raw)))
