"""Under CI=true (.ci/run sets it) a skipped test fails the run: tests/conftest.py's hooks, run on a small test file."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

TESTS = '''
import pytest

def test_skipped_inside():
    pytest.skip("no chromium here")

@pytest.mark.skipif(True, reason="no pose models")
def test_skipped_by_marker():
    pass

def test_runs():
    pass
'''


def _pytest(folder: Path, ci: str | None, *args: str) -> subprocess.CompletedProcess:
    import os

    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=120)


def test_a_skip_fails_under_ci_and_stays_a_skip_elsewhere(tmp_path):
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_some.py").write_text(TESTS)
    (tmp_path / "test_module_skip.py").write_text('import pytest\npytest.importorskip("no_such_module_xyz")\n'
                                                  "def test_x():\n    pass\n")
    here = _pytest(tmp_path, None, "test_some.py", "test_module_skip.py")
    assert here.returncode == 0 and "1 passed, 3 skipped" in here.stdout, here.stdout
    ci = _pytest(tmp_path, "true", "test_some.py")
    assert ci.returncode == 1
    assert "FAILED test_some.py::test_skipped_inside - skipped under CI=true" in ci.stdout
    assert "test_skipped_by_marker - skipped under CI=true" in ci.stdout and "1 passed" in ci.stdout
    ci = _pytest(tmp_path, "true", "test_module_skip.py")
    assert ci.returncode != 0 and "test_module_skip.py - skipped under CI=true" in ci.stdout


def test_ci_run_sets_ci_and_checks_the_browser_the_tests_launch(repo_root):
    script = (repo_root / ".ci" / "run").read_text()
    assert "export CI=true" in script and "[ ! -x /usr/bin/chromium ]" in script
    assert "\nmake test\n" in script and "make fuzz" in script
