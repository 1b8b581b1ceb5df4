import subprocess
import sys

from star.cli import COMMANDS, main


def test_help_lists_every_command(capsys):
    """The help's command list is exactly COMMANDS, in order, each with its help line."""
    import re

    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^    (\S+)", out, flags=re.MULTILINE)  # command names sit 4 spaces in; help text deeper
    assert listed == list(COMMANDS)
    flat = " ".join(out.split())
    for name, (_, help_text) in COMMANDS.items():
        assert f"{name} {help_text}" in flat, name


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


def test_commands_live_in_star_commands_and_the_library_never_imports_them(repo_root):
    import ast

    for name, (module_name, _) in COMMANDS.items():
        assert module_name.startswith("star.commands."), name
    for path in (repo_root / "star").rglob("*.py"):
        if "commands" in path.relative_to(repo_root / "star").parts or path.name in ("cli.py", "__main__.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.startswith("star.commands") or n.startswith("star.cli") for n in names), path


def test_every_command_prints_its_help(capsys):
    import pytest

    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0, name
        assert f"usage: star {name}" in capsys.readouterr().out
