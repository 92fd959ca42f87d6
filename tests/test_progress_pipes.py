"""Long commands on a pipe (`| tail`, a log) print plain progress lines with done/total,
rate and ETA, never a redrawn bar: train-swap and bench here; video in test_first_hour.py,
batch in test_cluster.py."""

from __future__ import annotations

from conftest import asset, cli
from test_swap_train import _folders

EVERY_UPDATE = {"RTSTYLE_PROGRESS_SECONDS": "0"}  # a line per update: tiny runs are fast


def _lines(stderr: str, prefix: str) -> list[str]:
    assert "\r" not in stderr
    return [x for x in stderr.splitlines() if x.startswith(prefix)]


def test_train_swap_on_a_pipe_prints_step_lines(tmp_path):
    photos, paintings = _folders(tmp_path)
    r = cli("train-swap", "--photos", str(photos), "--paintings", str(paintings),
            "-o", str(tmp_path / "d.safetensors"), "--size", "32", "--threads", "1",
            "--steps", "3", "--vgg-weights",
            str(asset("weights/vgg19_features_relu3_4.safetensors")), env=EVERY_UPDATE)
    assert r.returncode == 0, r.stderr
    lines = _lines(r.stderr, "train-swap: ")
    assert [x.split()[1] for x in lines] == ["1/3", "2/3", "3/3", "3/3"], lines
    assert "steps/s" in lines[0] and "ETA" in lines[0] and "feat=" in lines[-1]


def test_bench_on_a_pipe_counts_cases(tmp_path):
    r = cli("bench", "--models", "lite", "--engines", "torch,onnxruntime",
            "--sizes", "48x32,64x40", "--threads", "1", "--runs", "2", "--min-runs", "2",
            "--warmup", "1", "--no-pipelines", "--json", str(tmp_path / "b.json"),
            env=EVERY_UPDATE)
    assert r.returncode == 0, r.stderr
    lines = _lines(r.stderr, "bench: ")
    assert lines and lines[-1].startswith("bench: 4/4 cases"), r.stderr
    assert any("ETA" in x for x in lines)
    assert "bench:" not in r.stdout  # the table on stdout stays clean
