import subprocess
import sys

from star.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_every_command_module_has_the_interface():
    import importlib

    for name, (module_name, _) in COMMANDS.items():
        module = importlib.import_module(module_name)
        assert callable(module.add_arguments) and callable(module.run), name


def test_python_dash_m_star_works(repo_root):
    proc = subprocess.run([sys.executable, "-m", "star", "--help"], capture_output=True, text=True, cwd=repo_root)
    assert proc.returncode == 0 and "train-backbone" in proc.stdout


def test_unknown_command_exits_2(capsys):
    import pytest

    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
