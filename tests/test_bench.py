"""`rtstyle bench`: the JSON record, the cross-engine check, honest inputs and timing rules.

Everything runs on tiny frames with random-weight nets; nothing here asserts a speed.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch
from conftest import ASSETS, cli

from rtstyle.bench.engines import Settings, Variant, bench_engines, default_variants
from rtstyle.bench.inputs import BenchInputs, find_photos
from rtstyle.bench.machine import PeakMemory
from rtstyle.bench.models import BenchModel, random_weights, transform_model
from rtstyle.bench.report import markdown, matplotlib_missing, plot, text_table
from rtstyle.cli import main
from rtstyle.engines import open_engine
from rtstyle.engines.base import Engine
from rtstyle.errors import RtstyleError

TINY = Settings(threads=1, warmup=2, runs=3, min_runs=3, max_seconds=30.0)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """One real `rtstyle bench --json` run on tiny sizes (shared by the tests below)."""
    tmp = tmp_path_factory.mktemp("bench")
    out = tmp / "out.json"
    r = cli("bench", "--models", "full", "--engines", "torch,onnxruntime",
            "--sizes", "48x32,64x40", "--threads", "1", "--runs", "3", "--min-runs", "2",
            "--warmup", "1", "--no-pipelines",
            "--json", str(out), env={"RTSTYLE_HOME": str(tmp / "home")})
    assert r.returncode == 0, r.stderr
    assert "full" in r.stdout and "onnxruntime" in r.stdout  # the table on stdout
    return json.loads(out.read_text())


def test_json_holds_machine_peak_and_per_case_figures(report):
    m = report["machine"]
    assert m["cpu"] and m["logical_cpus"] >= 1 and m["threads"] == 1
    assert m["libraries"]["torch"] and m["libraries"]["numpy"]
    assert m["libraries"]["onnxruntime"] and m["date"].startswith("20")
    assert report["peak"]["gflops_per_s"] > 0 and "matmul" in report["peak"]["method"]
    assert report["settings"]["memory_method"] and report["settings"]["flop_method"]
    cases = {(r["engine"], r["size"]): r for r in report["engines"]}
    assert set(cases) == {(e, s) for e in ("torch", "onnxruntime") for s in ("48x32", "64x40")}
    for (engine, _), r in cases.items():
        assert r["status"] == "ok", r
        assert r["runs"] == len(r["times_ms"]) >= 2 and r["warmup_runs"] == 1
        assert 0 < r["ms_min"] <= r["ms_median"] <= r["ms_p95"]
        assert r["fps"] == pytest.approx(1000 / r["ms_median"], rel=0.01)
        assert r["gflops"] > 0 and r["gflops_per_s"] > 0 and r["fraction_of_peak"] > 0
        assert r["peak_mem_mb"] is not None and r["peak_mem_mb"] >= 0
        if engine == "torch":
            assert r["speedup_vs_torch"] == 1.0
        else:
            torch_ms = cases[("torch", r["size"])]["ms_median"]
            assert r["speedup_vs_torch"] == pytest.approx(torch_ms / r["ms_median"], rel=0.02)
            assert r["psnr_vs_torch_db"] is None or r["psnr_vs_torch_db"] >= r["min_psnr_db"]
    assert report["models"][0]["gflops"]["48x32"] == cases[("torch", "48x32")]["gflops"]
    assert set(report["headline"]) >= {"full_640x480_speedup_vs_torch", "lite_640x480_fps"}


def test_reports_render_as_text_markdown_and_plots(report, tmp_path):
    assert "fp32 peak" in text_table(report)
    md = markdown(report)
    assert report["command"] in md and "| model |" in md and md.count("\n| full |") == 4
    if matplotlib_missing():
        with pytest.raises(RtstyleError, match="matplotlib"):
            plot(report, tmp_path)
        return
    paths = plot(report, tmp_path)
    assert {p.name for p in paths} == {"fps_by_size.png", "latency.png"}
    for p in paths:
        assert cv2.imread(str(p)) is not None


def _torch_and_ort() -> list[Variant]:
    known = default_variants()
    return [known["torch"], known["onnxruntime"]]


def _model(tmp_path, seed: int) -> BenchModel:
    torch.manual_seed(seed)
    return transform_model(f"m{seed}", "fst", None, tmp_path, seed=seed)


def test_engine_that_disagrees_with_torch_is_rejected_untimed(tmp_path):
    model, other = _model(tmp_path, 0), _model(tmp_path, 1)
    impostor = Variant("impostor", "fp32", 40.0, "onnxruntime", prepare=lambda m: other.spec)
    variants = [*_torch_and_ort(), impostor]
    results = bench_engines([model], variants, [(32, 48)], BenchInputs([], seed=3), TINY)
    by = {r["engine"]: r for r in results}
    assert by["onnxruntime"]["status"] == "ok"
    assert by["impostor"]["status"] == "rejected"
    assert by["impostor"]["psnr_vs_torch_db"] < 40 and "ms_median" not in by["impostor"]
    assert "speedup_vs_torch" not in by["impostor"]


class Recording(Engine):
    """A real torch engine that also keeps every frame it is given."""

    def __init__(self, inner: Engine):
        self.inner, self.backend, self.name, self.seen = inner, inner.backend, inner.name, []

    def run(self, frames: np.ndarray) -> np.ndarray:
        self.seen.append(frames.copy())
        return self.inner.run(frames)


def test_inputs_are_never_flat_and_warmup_is_not_timed(tmp_path):
    model = _model(tmp_path, 0)
    engines: list[Recording] = []

    def open_recording(m: BenchModel, threads: int) -> Engine:
        engines.append(Recording(open_engine(m.spec, "torch", threads)))
        return engines[-1]

    variants = [Variant("torch", "fp32", 0.0, "torch", opener=open_recording)]
    photos = find_photos(ASSETS / "photos")
    results = bench_engines([model], variants, [(40, 56)], BenchInputs(photos), TINY)
    (engine,) = engines
    assert len(engine.seen) == TINY.warmup + results[0]["runs"]  # warm-up runs are extra
    assert results[0]["runs"] == len(results[0]["times_ms"]) == TINY.runs
    for frames in engine.seen:
        assert frames.shape == (1, 40, 56, 3) and frames.std() > 5 and frames.any()
    assert len({f.tobytes() for f in engine.seen}) > 1  # not the same frame over and over


def test_flat_photo_is_refused(tmp_path):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.full((50, 70, 3), 128, np.uint8))
    with pytest.raises(RtstyleError, match="constant"):
        BenchInputs([grey]).frames(32, 32)


def test_noise_inputs_without_photos_are_distinct_and_not_flat():
    frames = BenchInputs([], count=3).frames(24, 40)
    assert frames.shape == (3, 24, 40, 3) and min(f.std() for f in frames) > 50
    assert len({f.tobytes() for f in frames}) == 3


def test_flops_of_the_full_net_match_a_hand_count(tmp_path):
    # fst at 640x480: MACs per output pixel of each conv, times its output pixels.
    h, w = 480, 640
    macs = (81 * 3 * 32 * h * w + 9 * 32 * 64 * h * w / 4 + 9 * 64 * 128 * h * w / 16
            + 10 * 9 * 128 * 128 * h * w / 16  # five residual blocks, two convs each
            + 9 * 128 * 64 * h * w / 16 + 9 * 64 * 32 * h * w / 4  # transposed: per input px
            + 81 * 32 * 3 * h * w)
    assert _model(tmp_path, 0).gflops(h, w) == pytest.approx(2 * macs / 1e9, rel=1e-3)


def test_case_predicted_too_slow_is_skipped_unless_sweeping(tmp_path):
    model = _model(tmp_path, 0)
    variants = _torch_and_ort()
    quick = Settings(threads=1, warmup=1, runs=2, min_runs=2, max_seconds=1e-4)
    sizes = [(32, 32), (64, 96)]
    results = bench_engines([model], variants, sizes, BenchInputs([]), quick)
    big = [r for r in results if r["size"] == "96x64"]
    assert [r["status"] for r in big] == ["skipped", "skipped"]
    assert all("--sweep" in r["reason"] for r in big)
    sweep = Settings(**{**quick.__dict__, "sweep": True})
    results = bench_engines([model], variants, sizes, BenchInputs([]), sweep)
    assert all(r["status"] == "ok" for r in results)


def test_peak_memory_sees_native_allocations():
    with PeakMemory() as mem:
        block = np.ones(64 * 2**20, np.uint8)  # 64 MiB, touched
        del block
    if mem.mb is None:
        pytest.skip("peak RSS needs Linux /proc")
    assert mem.mb >= 60


def test_random_nets_are_not_flat():
    from rtstyle.nets import build_net

    net = build_net("fst")
    net.load_state_dict({k: torch.from_numpy(v) for k, v in random_weights("fst", {}).items()})
    out = net.eval()(torch.rand(1, 3, 32, 32) * 255)
    assert out.std() > 5


@pytest.mark.parametrize("args, message", [
    (["--sizes", "10x10"], "too small"),
    (["--sizes", "640by480"], "WIDTHxHEIGHT"),
    (["--engines", "tpu"], "unknown or unavailable engine 'tpu'"),
    (["--models", "giant"], "unknown model 'giant'"),
    (["--runs", "1", "--min-runs", "3"], "--min-runs"),
])
def test_bad_options_give_one_line_errors(args, message, capsys):
    assert main(["bench", "--no-pipelines", "--threads", "1", "--sizes", "32x32", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rtstyle: error:") and message in err[-1]


def test_cli_error_exits_2_without_traceback():
    r = cli("bench", "--sizes", "640x48O")
    assert r.returncode == 2 and r.stderr.startswith("rtstyle: error: size '640x48O'")
    assert "Traceback" not in r.stderr


def test_fraction_of_peak_uses_the_peak_of_the_engine_precision():
    from rtstyle.bench.engines import _ratios

    def case(engine, precision, ms):
        return {"engine": engine, "precision": precision, "status": "ok", "gflops": 10.0,
                "ms_median": ms}

    cases = [case("torch", "fp32", 1000.0), case("openvino-int8", "int8", 100.0),
             case("openvino-bf16", "bf16", 200.0)]
    _ratios(cases, {"fp32": 50.0, "bf16": None, "int8": 200.0})
    torch_rec, int8, bf16 = cases
    assert torch_rec["fraction_of_peak"] == 0.2 and torch_rec["peak_precision"] == "fp32"
    assert int8["fraction_of_peak"] == 0.5 and int8["peak_precision"] == "int8"
    # no native bf16 peak measured here: its fraction is of the fp32 peak, and says so
    assert bf16["fraction_of_peak"] == 1.0 and bf16["peak_precision"] == "fp32"
    assert int8["speedup_vs_torch"] == 10.0


def test_low_precision_peaks_are_native_or_say_why_not():
    pytest.importorskip("openvino")
    from rtstyle.bench.machine import low_precision_peaks
    from rtstyle.engines.precision import cpu_flags, native

    peaks = low_precision_peaks(threads=1, n=256, runs=2)
    assert set(peaks) == {"bf16", "int8"}
    for rec in peaks.values():
        assert (rec["gflops_per_s"] and rec["gflops_per_s"] > 0) or "not native" in rec["reason"]
    if native("bf16", cpu_flags()):
        assert peaks["bf16"]["gflops_per_s"], peaks["bf16"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU answer")
def test_gpu_check_without_a_gpu_says_so_in_one_line_and_exits_0():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu-check.sh"
    r = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "PYTHON": sys.executable})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and "no CUDA GPU" in lines[0], r.stdout
    assert r.stderr == ""


def test_upscaler_rows_run_on_its_input_size_with_a_hand_counted_cost(tmp_path):
    out = tmp_path / "sr.json"
    r = cli("bench", "--models", "sr", "--engines", "torch,onnxruntime", "--sizes", "64x48",
            "--threads", "1", "--runs", "2", "--min-runs", "2", "--warmup", "1",
            "--no-pipelines", "--json", str(out), env={"RTSTYLE_HOME": str(tmp_path / "home")})
    assert r.returncode == 0, r.stderr
    rows = json.loads(out.read_text())["engines"]
    assert {(x["model"], x["engine"], x["status"]) for x in rows} == {
        ("sr", "torch", "ok"), ("sr", "onnxruntime", "ok")}
    ort = next(x for x in rows if x["engine"] == "onnxruntime")
    assert ort["psnr_vs_torch_db"] is None or ort["psnr_vs_torch_db"] >= ort["min_psnr_db"]
    # 3 convs of 24 channels (3x3) and a 1x1 conv to 48 sub-pixels, at the input's pixels.
    macs = (27 * 24 + 2 * 216 * 24 + 24 * 48) * 48 * 64
    assert ort["gflops"] == pytest.approx(2 * macs / 1e9, rel=1e-2)
