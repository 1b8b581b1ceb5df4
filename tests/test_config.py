import argparse
import dataclasses
import json

import pytest

from star.config import (ConfigError, RunConfig, add_config_arguments, config_defaults, flag_name, migrate_config,
                         resolve_config)
from star.models import StarConfig


def parse(argv):
    p = argparse.ArgumentParser()
    add_config_arguments(p)
    return p.parse_args(argv)


def test_every_leaf_is_a_flag_and_overrides_yaml(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("benchmark: pool42-r1\nhead:\n  epochs: 7\n  tau: 0.2\n  arch:\n    d_model: 64\n")
    cfg = resolve_config(parse(["-c", str(cfg_file), "--head.tau", "0.05", "--backbone.milestones", "[3, 4]",
                                "--head.use-sce", "false", "--head.arch.num-heads", "2", "--run-dir", "/tmp/r",
                                "--max-clips-per-class", "3"]))
    assert isinstance(cfg, RunConfig)
    assert cfg.benchmark == "pool42-r1"
    assert cfg.head.epochs == 7  # from the file
    assert cfg.head.tau == 0.05  # flag beats file
    assert cfg.backbone.milestones == [3, 4]
    assert cfg.head.use_sce is False
    assert cfg.head.arch.d_model == 64 and cfg.head.arch.num_heads == 2
    assert cfg.head.arch.ffn_hidden == 64  # None = d_model, resolved after the merge
    assert cfg.run_dir == "/tmp/r" and cfg.max_clips_per_class == 3
    assert cfg.head.lr == RunConfig().head.lr  # untouched default


def test_flags_are_spelled_with_hyphens_and_underscores_are_a_hidden_alias(capsys):
    p = argparse.ArgumentParser()
    add_config_arguments(p)
    helptext = p.format_help()
    for name in ("--data-dir", "--run-dir", "--max-clips-per-class", "--head.lr", "--backbone.warmup-epochs",
                 "--head.arch.ffn-hidden"):
        assert name in helptext
    assert "--data_dir" not in helptext and "--head.arch.ffn_hidden" not in helptext
    cfg = resolve_config(parse(["--data_dir", "/d", "--backbone.warmup_epochs", "3"]))
    assert cfg.data_dir == "/d" and cfg.backbone.warmup_epochs == 3
    assert flag_name("head.arch.d_model") == "--head.arch.d-model"


def test_defaults_live_in_the_dataclasses():
    cfg = RunConfig()
    assert cfg.head.arch == StarConfig()  # the model's own defaults, not a copy
    assert cfg.head.arch.dropout == 0.0 and cfg.head.arch.ffn_hidden == cfg.head.arch.d_model
    defaults = config_defaults()
    assert defaults["head"]["arch"]["ffn_hidden"] is None  # read from the declarations, resolved on build
    assert RunConfig.from_dict({}) == cfg


def test_unknown_keys_are_rejected_with_the_known_ones(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("head:\n  epoch: 3\n")
    with pytest.raises(ConfigError, match="unknown key 'epoch'.*known: .*epochs"):
        resolve_config(path=bad)
    with pytest.raises(ConfigError, match="unknown option 'head.nope'"):
        resolve_config(overrides={"head.nope": 1})
    with pytest.raises(ConfigError, match="unknown key 'depth'"):
        RunConfig.from_dict({"head": {"arch": {"depth": 3}}})


def test_wrong_types_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="head.epochs: expected int"):
        resolve_config(overrides={"head.epochs": "many"})
    with pytest.raises(ConfigError, match="backbone.milestones: expected a list"):
        resolve_config(overrides={"backbone.milestones": 3})
    cfg = resolve_config(overrides={"head.lr": "1e-3", "head.arch.dropout": 0})  # YAML reads 1e-3 as text
    assert cfg.head.lr == 0.001 and isinstance(cfg.head.arch.dropout, float)
    with pytest.raises(ConfigError, match="divisible"):
        resolve_config(overrides={"head.arch.d_model": 10, "head.arch.num_heads": 4})


def test_migration_moves_the_old_flat_head_section_into_arch(tmp_path):
    old = {"head": {"model": "star", "d_model": 64, "ffn_hidden": 256, "dropout": 0.1, "lr": 0.02},
           "backbone": {"workers": 0, "epochs": 3}}
    new = migrate_config(old)
    assert new["head"] == {"model": "star", "lr": 0.02, "arch": {"d_model": 64, "ffn_hidden": 256, "dropout": 0.1}}
    assert new["backbone"] == {"epochs": 3}
    assert old["head"]["d_model"] == 64  # the input is not changed
    path = tmp_path / "old.yaml"
    path.write_text("head:\n  d_model: 64\n  ffn_hidden: 256\n  dropout: 0.1\n")
    cfg = resolve_config(path=path, overrides={"head.num_parts": 4})  # old dotted keys too
    assert (cfg.head.arch.d_model, cfg.head.arch.ffn_hidden, cfg.head.arch.dropout) == (64, 256, 0.1)
    assert cfg.head.arch.num_parts == 4


BASELINE_V3 = {"head.model": "baseline", "head.part_weight_grid": []}  # the shipped baseline's command-line overrides


@pytest.mark.parametrize("name, model, config, overrides", [
    ("star-pool42-32-10", "star", "pool42-32-10-v3.yaml", {}),
    ("baseline-pool42-32-10", "baseline", "pool42-32-10-v3.yaml", BASELINE_V3),
    ("star-noam-pool42-32-10", "star", "pool42-32-10-v3-noam.yaml", {})])
def test_shipped_sidecars_resolve_to_exactly_what_they_were_trained_with(repo_root, name, model, config, overrides):
    meta = json.loads((repo_root / "checkpoints" / name / "model.json").read_text())
    cfg = RunConfig.from_dict(meta["config"])
    assert cfg.head.model == meta["model"] == model
    built = cfg.head.arch_for(meta["head_config"]["num_classes"], meta["head_config"]["text_dim"])
    assert built == StarConfig(**meta["head_config"])
    # the shipped checkpoints are their config's 32/10 seed-0 heads (the commands in the config's comments)
    from_yaml = resolve_config(path=repo_root / "configs" / config, overrides={"out": meta["config"]["out"], **overrides})
    assert from_yaml == cfg
    assert RunConfig.from_dict(cfg.to_dict()) == cfg  # today's layout round-trips


def test_shipped_configs_resolve(repo_root):
    for path in sorted((repo_root / "configs").glob("*.yaml")):
        cfg = resolve_config(path=path)
        assert cfg.head.model in ("star", "baseline"), path
        if path.name.startswith(("ntu", "pku")):  # the paper's head: FFN d-d-d, no dropout
            assert cfg.head.arch.ffn_hidden == cfg.head.arch.d_model and cfg.head.arch.dropout == 0.0, path
        if path.name.startswith("ntu"):
            assert (cfg.head.arch.d_model, cfg.head.arch.ffn_hidden) == (768, 768), path
        if path.name.startswith("pool42"):  # pinned to what the shipped checkpoints were trained with
            assert (cfg.head.arch.ffn_hidden, cfg.head.arch.dropout) == (256, 0.1), path
        assert dataclasses.asdict(cfg) == cfg.to_dict()


# ---------------------------------------------------------------------------------------- issue 11 fields
def test_new_fields_default_to_the_old_behaviour():
    cfg = resolve_config()
    assert cfg.preprocess == "legacy" and cfg.canonical.is_legacy
    assert (cfg.validation.protocol, cfg.validation.backbone, cfg.validation.select_by) == ("clips", "shared", "H")
    assert (cfg.head.schedule, cfg.head.milestone_fractions, cfg.head.learn_tau, cfg.head.tau_grid,
            cfg.head.copy_sampling) == ("step", None, False, [], "all")
    assert cfg.head.precision == cfg.backbone.precision == "fp32"
    # an old sidecar config (no such keys) reads as legacy preprocessing and the old validation
    old = RunConfig.from_dict({"benchmark": "pool42-32/10", "head": {"d_model": 256, "tau": 0.1}})
    assert old.canonical.is_legacy and old.validation.protocol == "clips"


def test_new_fields_are_checked():
    for key, value in (("preprocess", "view,bogus"), ("validation.protocol", "views"),
                       ("validation.select_by", "auc"), ("validation.backbone", "own"), ("head.schedule", "linear"),
                       ("head.copy_sampling", "two"), ("head.milestone_fractions", [0.5, 1.5]),
                       ("head.tau_grid", [0.1, 0.0]), ("head.precision", "fp16"), ("backbone.precision", "half"),
                       ("head.part_weight", -0.5), ("head.part_weight_grid", [0.0, -1.0])):
        with pytest.raises(ConfigError):
            resolve_config(overrides={key: value})
    cfg = resolve_config(parse(["--preprocess", "view,scale", "--head.tau-grid", "[0.05, 0.1]",
                                "--head.milestone-fractions", "[0.6, 0.85]", "--validation.select-by", "ausuc"]))
    assert cfg.canonical.view and cfg.canonical.scale and not cfg.canonical.smooth
    assert cfg.head.tau_grid == [0.05, 0.1] and cfg.head.milestone_fractions == [0.6, 0.85]
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_v2_configs(repo_root):
    import sys

    cfg = resolve_config(path=repo_root / "configs" / "pool42-32-10-v2.yaml")
    assert cfg.canonical.to_spec() == "view,joints"  # docs/CANONICAL.md's choice
    assert cfg.features.augmented_copies >= 4 and cfg.head.copy_sampling == "one"
    assert cfg.head.milestone_fractions and cfg.head.weight_decay > 0 and cfg.head.tau == 0.1
    assert (cfg.validation.protocol, cfg.validation.backbone, cfg.validation.smooth_epochs) == ("protocol", "shared", 3)
    assert not cfg.out.startswith("checkpoints/")
    # the r0..r4 files are what the generator writes from the 32/10 file
    files = {s: (repo_root / "configs" / f"pool42-r{s}-v2.yaml").read_text() for s in range(5)}
    sys.path.insert(0, str(repo_root / "configs"))
    try:
        import make_pool42_v2
    finally:
        sys.path.pop(0)
    template = (repo_root / "configs" / "pool42-32-10-v2.yaml").read_text()
    for s, text in files.items():
        assert text == make_pool42_v2.render(s, template)
        r = resolve_config(path=repo_root / "configs" / f"pool42-r{s}-v2.yaml")
        assert r.benchmark == f"pool42-r{s}" and r.run_dir == f"runs/v2-r{s}"
        assert dataclasses.replace(r, benchmark=cfg.benchmark, run_dir=cfg.run_dir, out=cfg.out) == cfg
