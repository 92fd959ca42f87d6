"""What a new user trips over in the first hour (issue 29): typo'd flags, a missing model
file, the offline advice, the README's examples. Each runs the CLI as a user would."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import cli


def error_line(r) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    return r.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(("argv", "expected"), [
    (["image", "a.jpg", "-o", "b.jpg", "--stlye", "udnie"], "did you mean --style?"),
    (["video", "a.mp4", "-o", "b.mp4", "--precison=int8"], "did you mean --precision?"),
    (["imgae", "a.jpg"], "did you mean 'image'?"),
    (["image", "a.jpg", "-o", "b.jpg", "--precision", "int9"], "did you mean 'int8'?"),
    (["styles", "lst"], "did you mean 'list'?"),
])
def test_mistyped_flag_or_choice_suggests_the_nearest(argv, expected):
    line = error_line(cli(*argv))
    assert expected in line
    # The usage shown is the sub-command's, whose flags the user was typing.
    assert argv[0] in line or "rtstyle:" in line


def test_unknown_flag_with_no_near_match_is_still_an_error():
    line = error_line(cli("image", "a.jpg", "-o", "b.jpg", "--zzzz"))
    assert "unrecognized arguments: --zzzz" in line and "did you mean" not in line


@pytest.mark.parametrize("spec", ["sn-int8.onnx", "./sn-int8.onnx", "models/sn.safetensors",
                                  "missing.pth"])
def test_missing_model_file_is_a_missing_file_not_an_unknown_style(photo, tmp_path, spec):
    r = cli("image", str(photo), "-o", str(tmp_path / "o.png"), "--style", spec, cwd=tmp_path)
    line = error_line(r)
    assert "does not exist" in line and "unknown style" not in line
    assert not (tmp_path / "o.png").exists()


def test_unrunnable_model_file_says_import_it(photo, tmp_path):
    (tmp_path / "net.pth").write_bytes(b"not a model")
    r = cli("image", str(photo), "-o", str(tmp_path / "o.png"), "--style", "net.pth",
            cwd=tmp_path)
    assert "rtstyle styles import net.pth" in error_line(r)


def test_mistyped_style_name_is_still_an_unknown_style(photo, tmp_path):
    line = error_line(cli("image", str(photo), "-o", str(tmp_path / "o.png"),
                          "--style", "udnei"))
    assert "unknown style 'udnei'" in line and "did you mean 'udnie'" in line


def test_pull_offline_advice_is_a_command_that_downloads_a_folder(monkeypatch):
    from rtstyle.errors import RtstyleError
    from rtstyle.styles import catalogue

    # An unreachable port on loopback stands in for "offline".
    monkeypatch.setattr(catalogue, "ML5_URL", "http://127.0.0.1:9/{style}/{file}")
    with pytest.raises(RtstyleError) as e:
        catalogue.pull_style("udnie", timeout=2)
    text = str(e.value)
    assert "raw.githubusercontent" not in text and "\n" not in text
    assert "sparse-checkout set models/style-transfer/udnie" in text
    assert "rtstyle styles import udnie" in text


# --- train --init auto ------------------------------------------------------------------

@pytest.mark.parametrize(("arch", "painting", "expected"), [
    ("lite", "starry_night.jpg", "starry_night-lite"),
    ("fst", "great_wave.png", "great_wave"),
    ("lite", "my_dog.jpg", "udnie-lite"),
    ("fst", "my_dog.jpg", "udnie"),
])
def test_init_auto_picks_the_builtin_named_after_the_painting_else_the_default(
        arch, painting, expected):
    from pathlib import Path

    from rtstyle.commands.train import resolve_init
    from rtstyle.styles.modelfile import read_meta

    path = resolve_init("auto", arch, Path(painting))
    assert path is not None and path.stem == expected
    assert read_meta(path)["arch"] == arch  # same architecture, so the weights load


def test_init_none_and_johnson_train_from_scratch():
    from pathlib import Path

    from rtstyle.commands.train import resolve_init

    assert resolve_init("none", "lite", Path("udnie.jpg")) is None
    assert resolve_init("auto", "johnson", Path("udnie.jpg")) is None


def test_train_by_default_fine_tunes_a_builtin_and_records_it(tmp_path):
    from rtstyle.styles.modelfile import read_meta

    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        cv2.imwrite(str(photos / f"p{i}.png"),
                    cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (64, 48)))
    painting = tmp_path / "my_painting.png"
    cv2.imwrite(str(painting), rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    r = cli("train", "--style-image", str(painting), "--data", str(photos), "-o", "mine",
            "--arch", "lite", "--size", "32", "--batch", "1", "--steps", "2", "--holdout", "1",
            "--workdir", str(tmp_path / "work"), "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "starting from built-in 'udnie-lite'" in r.stderr
    made_by = read_meta(tmp_path / "work" / "mine.safetensors")["made_by"]
    assert made_by["init"] == "udnie-lite.safetensors"
    assert made_by["init_history"]  # the built-in's own runs are counted


# --- int8 export with no files ----------------------------------------------------------

def test_int8_export_needs_no_files_and_stays_close_to_fp32(tmp_path, monkeypatch):
    """The README's int8 export, with no $RTSTYLE_ASSETS: it calibrates on the demo clip,
    says how to do better, and the result stays near fp32 on a picture it never saw."""
    from rtstyle.engines import open_engine
    from rtstyle.live.sources.demo import landscape
    from rtstyle.metrics import psnr

    env = {"RTSTYLE_ASSETS": str(tmp_path / "no-assets")}
    for precision in ("fp32", "int8"):
        r = cli("export", "--style", "udnie-lite", "--precision", precision, "-o",
                str(tmp_path / f"{precision}.onnx"), env=env)
        assert r.returncode == 0, r.stderr
    assert "demo clip" in r.stderr and "--calibrate" in r.stderr
    frame = landscape(160, 120, seed=99)[None]
    outs = [open_engine(tmp_path / f"{p}.onnx", "onnxruntime").run(frame)
            for p in ("fp32", "int8")]
    assert psnr(outs[0], outs[1]) > 25.0


# --- blending two styles ----------------------------------------------------------------

def test_blend_engine_mixes_the_two_outputs_per_pixel(photo):
    from rtstyle.engines import open_engine

    frames = cv2.imread(str(photo))[None]
    a = open_engine("udnie-lite", "onnxruntime").run(frames).astype(float)
    b = open_engine("starry_night-lite", "onnxruntime").run(frames).astype(float)
    for mix in (0.0, 0.3, 1.0):
        out = open_engine("udnie-lite+starry_night-lite", "onnxruntime", mix=mix).run(frames)
        assert out.shape == frames.shape and out.dtype == np.uint8
        assert np.abs(out - ((1 - mix) * a + mix * b)).max() <= 1.0


def test_blend_from_the_cli_and_its_bad_inputs(photo, tmp_path):
    out = tmp_path / "blend.png"
    r = cli("image", str(photo), "-o", str(out), "--style", "udnie-lite+starry_night-lite",
            "--mix", "0.3", "--backend", "onnxruntime")
    assert r.returncode == 0, r.stderr
    assert cv2.imread(str(out)).shape == (60, 80, 3)
    assert "--mix 2.0 is out of range" in error_line(
        cli("image", str(photo), "-o", str(out), "--style", "udnie+udnie-lite", "--mix", "2"))
    assert "blend exactly two styles" in error_line(
        cli("image", str(photo), "-o", str(out), "--style", "udnie+udnie-lite+great_wave"))
    assert "did you mean 'udnie'" in error_line(
        cli("image", str(photo), "-o", str(out), "--style", "udnei+udnie-lite"))


# --- GIF output -------------------------------------------------------------------------

def test_video_to_gif_is_a_complete_palette_gif(tmp_path):
    """`-o x.gif` gives a looping GIF of every frame (at most 15 fps), with its own palette."""
    from conftest import asset

    src = asset("videos/vtest.avi")
    out = tmp_path / "clip.gif"
    r = cli("video", str(src), "-o", str(out), "--end", "1", "--max-size", "160",
            "--style", "udnie-lite", "--backend", "onnxruntime")
    assert r.returncode == 0, r.stderr
    assert f"-> {out}" in r.stdout
    assert out.read_bytes()[:6] == b"GIF89a"
    assert [p.name for p in tmp_path.iterdir()] == ["clip.gif"]  # no partial files left
    import imageio_ffmpeg

    probe = imageio_ffmpeg.read_frames(str(out))
    meta = next(probe)
    frames = list(probe)
    assert meta["size"] == (160, 120)
    assert 8 <= len(frames) <= 16  # 1 s of vtest.avi's 10 fps, never more than 15 fps
    colours = {tuple(px) for f in frames[:1]
               for px in np.frombuffer(f, np.uint8).reshape(-1, 3)[::7]}
    assert len(colours) > 32  # a palette made for the clip, not a few flat colours


# --- progress on a pipe ---------------------------------------------------------------

def test_line_progress_prints_plain_lines_with_rate_and_eta():
    import io

    from rtstyle.progress import LineProgress

    out = io.StringIO()
    bar = LineProgress(100, "frame", "clip.mp4", every_s=0.0, file=out)
    for _ in range(10):
        bar.update(1)
    bar.set_postfix(loss="0.5")
    bar.close()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and len(lines) == 11  # one per update, and the last
    assert lines[-1].startswith("clip.mp4: 10/100 frames, ") and "frames/s, ETA " in lines[-1]
    assert lines[-1].endswith("(loss=0.5)")


def test_line_progress_eta_leaves_out_the_slow_start(monkeypatch):
    """A first training step that builds caches (here 60 s, then 1 s a step) must not
    stretch the ETA: 90 steps left at 1 s each read as 1:30, not ~3:00."""
    import io

    from rtstyle import progress

    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    out = io.StringIO()
    bar = progress.LineProgress(100, "step", "train", every_s=0.0, file=out)
    for step in range(10):
        now[0] = 60.0 + step  # step 1 ends at 60 s, then one a second
        bar.update(1)
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("train: 10/100 steps, 1 steps/s, ETA 1:30"), last


def test_line_progress_is_quiet_between_intervals():
    import io

    from rtstyle.progress import LineProgress

    out = io.StringIO()
    bar = LineProgress(None, "step", "train", every_s=3600.0, file=out)
    for _ in range(1000):
        bar.update(1)
    assert out.getvalue() == ""  # a log does not flood
    bar.close()
    assert out.getvalue() == ""  # a run too short for a line stays silent (one-line errors)
    bar = LineProgress(None, "step", "train", every_s=0.0, file=out)
    for _ in range(3):
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and "3 steps" in lines[-1] and "ETA" not in lines[-1]


def test_video_on_a_pipe_reports_progress_lines(tmp_path, photo):
    clip = tmp_path / "clip.mp4"
    img = cv2.imread(str(photo))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 10, (80, 60))
    for i in range(12):
        writer.write(np.roll(img, 4 * i, axis=1))
    writer.release()
    r = cli("video", str(clip), "-o", str(tmp_path / "out.mp4"), "--style", "udnie-lite",
            "--backend", "onnxruntime",  # captured: stderr is a pipe, as with `| tail`
            env={"RTSTYLE_PROGRESS_SECONDS": "0"})  # a line per update: 12 frames are fast
    assert r.returncode == 0, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("clip.mp4: ")]
    assert lines and "12/12 frames" in lines[-1] and "frames/s" in lines[-1]
    assert "\r" not in r.stderr


# --- bench text -------------------------------------------------------------------------

def _bench_report(engines: list[dict], headline: dict) -> dict:
    return {"machine": {"date": "2026-12-05", "cpu": "test CPU", "threads": 2},
            "peak": {"gflops_per_s": 100.0, "method": "test"}, "settings": {"input": "test"},
            "engines": engines, "headline": headline}


def test_bench_text_names_precisions_and_explains_itself():
    from rtstyle.bench.report import text_table

    base = {"model": "lite", "size": "640x480", "status": "ok", "gflops": 1.2}
    engines = [
        {**base, "engine": "torch", "precision": "fp32", "fps": 50.0},
        {**base, "engine": "openvino", "precision": "bf16", "psnr_vs_torch_db": 45.0,
         "fps": 90.0},
        {**base, "engine": "onnxruntime-fp16", "precision": "fp16", "psnr_vs_torch_db": 70.1},
        {**base, "engine": "onnxruntime-int8", "precision": "int8", "psnr_vs_torch_db": None,
         "fraction_of_peak": 1.46, "peak_precision": "fp32", "peak_mem_mb": 0.1},
    ]
    headline = {"min_psnr_db": 35.0, "full_640x480_speedup_vs_torch": None,
                "full_640x480_fastest_cpu_engine": None, "lite_640x480_fps": 90.0,
                "lite_640x480_fastest_cpu_engine": "openvino-bf16", "lite_1280x720_fps": None}
    text = text_table(_bench_report(engines, headline))
    table = text.split("\n\n")[1]
    assert "openvino-bf16" in table and " openvino " not in table
    assert "onnxruntime-fp16-fp16" not in table
    assert "exact" not in text and "70.1" in table and "identical" in table
    assert "146% of fp32" in table and "+peak MB" in table
    assert "Full net at 640x480: no CPU engine ran this size within 35 dB" in text
    assert "+peak MB = " in text and "PSNR dB = " in text
