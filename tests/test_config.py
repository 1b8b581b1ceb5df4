import argparse

import pytest

from star.config import DEFAULTS, ConfigError, add_config_arguments, resolve_config


def parse(argv):
    p = argparse.ArgumentParser()
    add_config_arguments(p)
    return p.parse_args(argv)


def test_every_leaf_is_a_flag_and_overrides_yaml(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("benchmark: pool42-r1\nhead:\n  epochs: 7\n  tau: 0.2\n")
    cfg = resolve_config(parse(["-c", str(cfg_file), "--head.tau", "0.05", "--backbone.milestones", "[3, 4]",
                                "--head.use_sce", "false"]))
    assert cfg["benchmark"] == "pool42-r1"
    assert cfg["head"]["epochs"] == 7  # from the file
    assert cfg["head"]["tau"] == 0.05  # flag beats file
    assert cfg["backbone"]["milestones"] == [3, 4]
    assert cfg["head"]["use_sce"] is False
    assert cfg["head"]["lr"] == DEFAULTS["head"]["lr"]  # untouched default


def test_unknown_keys_are_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("head:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match="unknown key 'epoch'"):
        resolve_config(path=bad)
    with pytest.raises(ConfigError, match="unknown option"):
        resolve_config(overrides={"head.nope": 1})


def test_shipped_configs_resolve(repo_root):
    for path in sorted((repo_root / "configs").glob("*.yaml")):
        cfg = resolve_config(path=path)
        assert cfg["head"]["model"] in ("star", "baseline"), path
