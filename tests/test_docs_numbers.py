"""Numbers in the README and the hand-written docs cannot drift from their sources: the README's checkpoint table is
generated from the sidecars (``bench/readme_tables.py``), and every "mean ± CI" figure written by hand, and every
figure of the README's Results section, must be one that a results script wrote into a generated document."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GENERATED = ("RESULTS.md", "CANONICAL.md", "SOURCE_PROBE.md", "SEPARABILITY.md", "RECIPE.md")  # written by bench/
HAND_WRITTEN = ["README.md"] + [f"docs/{p.name}" for p in sorted((REPO / "docs").glob("*.md")) if p.name not in GENERATED]
MEAN_CI = re.compile(r"(?<![\d.])[+-]?(\d+\.\d+) ± (\d+\.\d+)")


def _generated_text() -> str:
    return "\n".join((REPO / "docs" / name).read_text() for name in GENERATED)


def test_the_readme_checkpoint_table_is_what_the_sidecars_say():
    from bench import readme_tables

    text = (REPO / "README.md").read_text()
    assert readme_tables.with_block(text) == text, "run .venv/bin/python bench/readme_tables.py"


@pytest.mark.parametrize("doc", HAND_WRITTEN)
def test_every_mean_ci_written_by_hand_is_in_a_generated_document(doc):
    source = _generated_text()
    figures = {f"{m.group(1)} ± {m.group(2)}" for m in MEAN_CI.finditer((REPO / doc).read_text())}
    missing = sorted(f for f in figures if f not in source)
    assert not missing, f"{doc}: not in docs/{', docs/'.join(GENERATED)}: {missing}"


def test_every_figure_of_the_readme_results_section_is_in_results_md():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Results"):readme.index("\n## ", readme.index("## Results") + 1)]
    results = (REPO / "docs" / "RESULTS.md").read_text()
    figures = set(re.findall(r"(?<![\d./])(\d+\.\d+)(?![\d])", section))
    assert len(figures) >= 15  # the section quotes numbers: the check has something to check
    missing = sorted(f for f in figures if f not in results)
    assert not missing, f"README Results: not in docs/RESULTS.md: {missing}"


def test_the_check_catches_a_changed_figure(tmp_path):
    """The checks above on a README with one figure changed (a stale number) and with the table edited by hand."""
    from bench import readme_tables

    readme = (REPO / "README.md").read_text()
    stale = readme.replace("36.7 ± 21.2", "36.2 ± 21.2", 1)
    assert stale != readme
    figures = {f"{m.group(1)} ± {m.group(2)}" for m in MEAN_CI.finditer(stale)}
    assert "36.2 ± 21.2" in figures and "36.2 ± 21.2" not in _generated_text()
    edited = readme.replace("| 16 | 18.6 min |", "| 16 | 17.0 min |", 1)
    assert edited != readme and readme_tables.with_block(edited) != edited


def test_the_app_latency_table_is_the_bench_record():
    """docs/APP.md's "now" column is bench/results/app_latency.json's medians (written by bench/app_latency.py)."""
    import json

    record = json.loads((REPO / "bench" / "results" / "app_latency.json").read_text())["results"]
    table = (REPO / "docs" / "APP.md").read_text()
    rows = {line.split("|")[1].strip(): line.split("|")[4].strip() for line in table.splitlines()
            if line.startswith("| ") and line.count("|") == 6}
    sources = {  # docs row -> the record's keys, in the cell's order
        "first Predict after server start (its first request)": ["first Predict after server start"],
        "page switch: Model / Predict / Embedding spaces / Confusion / Calibration / Compare":
            [f"page switch to {p}" for p in ("Model", "Predict", "Embedding spaces", "Confusion", "Calibration",
                                             "Compare")],
        "Predict: switch the built-in sample": ["Predict: switch the built-in sample"],
        "Predict: open a details tab / the Part occlusion tab": ["Predict: open a details tab",
                                                                 "Predict: open the Part occlusion tab"],
        "Predict: edit the open-vocabulary box": ["Predict: edit the open-vocabulary box"],
        "Predict: change top-k": ["Predict: change top-k"],
        "Predict: move gamma (slider key / number box)": ["Predict: move the gamma slider (one key)",
                                                          "Predict: type gamma in the number box"],
        "Predict: pick a vocabulary preset (NTU-120 ...)": ["Predict: pick a vocabulary preset"],
        "Predict: upload a real NTU `.skeleton`": ["Predict: upload a real NTU .skeleton"],
        "Predict: re-upload an already-posed video": ["Predict: re-upload an already-posed video"],
        "Embedding spaces for an uploaded copy of a shipped checkpoint":
            ["Embedding spaces for an uploaded copy of a shipped checkpoint"],
    }
    for row, keys in sources.items():
        want = " / ".join(f"{record[k]['median_s']:.2f}" for k in keys) + " s"
        assert rows[row] == want, (row, rows[row], want)


def _sources_of_findings() -> set[str]:
    """Every figure the findings may quote: the generated documents' text, the sidecars' metrics (percent, one
    decimal) and training settings, and the run records of docs/results.json (fractions to 3 decimals, percent to
    1)."""
    import json

    text = _generated_text()
    figures = set(re.findall(r"\d+\.\d+", text))
    def settings(node):  # the numbers of a sidecar's training configuration, as written there
        if isinstance(node, dict):
            for v in node.values():
                yield from settings(v)
        elif isinstance(node, list):
            for v in node:
                yield from settings(v)
        elif isinstance(node, float):
            yield f"{node:g}"

    for sidecar in (REPO / "checkpoints").glob("*/model.json"):
        meta = json.loads(sidecar.read_text())
        figures.update(f"{v * 100:.1f}" for v in meta["metrics"].values() if isinstance(v, float))
        figures.update(settings(meta["config"]))
    for record in json.loads((REPO / "docs" / "results.json").read_text()):
        for value in record.values():
            if isinstance(value, float):
                figures.update({f"{value:.3f}", f"{value * 100:.1f}"})
    return figures


def test_every_decimal_figure_of_the_findings_has_a_source():
    text = (REPO / "docs" / "FINDINGS.md").read_text()
    figures = set(re.findall(r"(?<![\d.])(\d+\.\d+)(?!\d)", text))
    assert len(figures) > 100
    missing = sorted(figures - _sources_of_findings())
    assert not missing, f"docs/FINDINGS.md figures with no source: {missing}"


def test_the_lifter_tables_are_the_bench_record():
    """docs/VIDEO.md's lifter tables are what bench/lifter_eval.py writes from bench/results/lifter_eval.json."""
    import json

    from bench.lifter_eval import markdown

    text = (REPO / "docs" / "VIDEO.md").read_text()
    block = text.split("<!-- generated:lifter -->\n", 1)[1].split("\n<!-- /generated:lifter -->", 1)[0]
    record = json.loads((REPO / "bench" / "results" / "lifter_eval.json").read_text())
    assert block == markdown(record)


def test_the_2d_stage_table_is_its_bench_record():
    """docs/VIDEO.md's "2-D stage" table is bench/results/pose2d_vs_mediapipe.json's headline, rounded as written."""
    import json

    h = json.loads((REPO / "bench" / "results" / "pose2d_vs_mediapipe.json").read_text())["headline"]
    d, by, j = h["distance_sw"], h["distance_by_sixth_sw"], h["jitter_ratio"]
    key = "{} vs legacy smoothed ({})".format
    sixths = lambda k: " ".join(f"{v:.3f}" for v in by[key(k, "full")])  # noqa: E731
    want = [
        f"| median distance, whole frame | {d[key('before', 'full')]:.3f} | {d[key('after', 'full')]:.3f} | <= 0.02 |",
        f"| median distance, centre square | {d[key('before', 'centre')]:.3f} | {d[key('after', 'centre')]:.3f} | |",
        f"| the same, in six consecutive stretches of the video (whole frame) | {sixths('before')} | {sixths('after')} | |",
        f"| jitter, ours / mediapipe's, whole frame | {j[key('before', 'full')]:.2f} | {j[key('after', 'full')]:.2f} | <= 1.5 |",
        f"| jitter, ours / mediapipe's, centre square | {j[key('before', 'centre')]:.2f} | {j[key('after', 'centre')]:.2f} | |",
    ]
    text = (REPO / "docs" / "VIDEO.md").read_text()
    section = text.split("## 2-D stage", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| our ")]
    assert rows == want


def test_the_descriptions_after_column_is_the_generated_separability():
    """docs/DESCRIPTIONS.md's "after" figures (the descriptions file now in the repository) are docs/SEPARABILITY.md's
    (written by bench/separability.py for that same file), part by part, and the means over the 12 parts follow
    from them. The "before" figures are a record of an older file and have no source left to check."""
    sep = (REPO / "docs" / "SEPARABILITY.md").read_text()
    desc = (REPO / "docs" / "DESCRIPTIONS.md").read_text()
    sha = re.search(r"sha256 ([0-9a-f]{12})", sep).group(1)
    assert f"after = {sha}" in desc or f"after ({sha})" in desc
    generated = {}  # (parts, text kind, part) -> (off-diag, nearest)
    for block in sep.split("\n## ")[1:]:
        parts = block.split(" ", 1)[0]
        for sub in block.split("\n### ")[1:]:
            kind = "input" if sub.startswith("Name, part") else "alone"
            for part, off, near in re.findall(r"^\| ([a-z -]+) \| (\d\.\d{3}) \| (\d\.\d{3}) \|", sub, re.M):
                generated[(parts, kind, part)] = (off, near)
    rows = re.findall(r"^\| (\d) \| ([a-z -]+) \| \d+ → \d+ \| [\d.]+ → ([\d.]+) \| [\d.]+ → ([\d.]+) \| "
                      r"[\d.]+ → ([\d.]+) \| [\d.]+ → ([\d.]+) \|$", desc, re.M)
    assert len(rows) == 12
    for parts, part, off_in, near_in, off_alone, near_alone in rows:
        assert generated[(parts, "input", part)] == (off_in, near_in), (parts, part)
        assert generated[(parts, "alone", part)] == (off_alone, near_alone), (parts, part)
    def mean(kind: str, i: int) -> str:
        return f"{sum(float(generated[(r[0], kind, r[1])][i]) for r in rows) / len(rows):.3f}"

    text = " ".join(desc.split())
    assert f"input off-diag 0.528 → {mean('input', 0)}, input nearest 0.777 → {mean('input', 1)}" in text
    assert f"off-diag 0.573 → {mean('alone', 0)}, nearest 0.816 → {mean('alone', 1)}" in text
