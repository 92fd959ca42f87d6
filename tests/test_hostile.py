"""Hostile inputs, kept fixed: each case fails in one line (exit 2, no traceback) or works,
touches nothing outside the folders it should, and stays within bounded memory and time.

The cases are those of a hostile-user review: paths out of the catalogue, manifests that
point elsewhere, model files whose metadata claims huge nets, devices and FIFOs as outputs,
numbers without bounds, unwritable homes, killed writers, concurrent imports, truncated
JPEGs. Most run the real CLI entry point in-process (fast); the memory bombs run in one
subprocess under `ulimit -v` so a regression is killed, not the test machine.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from safetensors.torch import save

from rtstyle.cli import main
from rtstyle.nets import build_net
from rtstyle.styles.importers import _fst_tf_shapes
from rtstyle.styles.modelfile import save_model

MEMORY_KB = 6_000_000  # the bound every case must live in (ulimit -v)
CASE_SECONDS = 60


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """The `rtstyle` entry point in-process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own usage errors
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def one_line_error(result, *words: str) -> str:
    rc, _, err = result
    lines = err.strip().splitlines()
    assert rc == 2, (rc, err)
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("rtstyle: error: "), err
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


DRIVER = r"""
import contextlib, io, json, sys, time
from rtstyle.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err, t0 = io.StringIO(), time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    results.append([rc, err.getvalue(), time.monotonic() - t0])
print(json.dumps(results))
"""


def run_bounded(cases: list[list[str]], home: Path) -> list[tuple[int, str, str]]:
    """Several CLI runs in one fresh interpreter under `ulimit -v MEMORY_KB`: a memory bomb
    that comes back dies of MemoryError there (a traceback, so the test fails)."""
    argv = json.dumps([[str(a) for a in c] for c in cases])
    cmd = (f"ulimit -v {MEMORY_KB}; exec {shlex.quote(sys.executable)} -c "
           f"{shlex.quote(DRIVER)} {shlex.quote(argv)}")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                       timeout=CASE_SECONDS * len(cases) + 60,
                       env={**os.environ, "RTSTYLE_HOME": str(home)})
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    results = json.loads(r.stdout.strip().splitlines()[-1])
    for _, err, seconds in results:
        assert seconds < CASE_SECONDS, (seconds, err)
    return [(rc, "", err) for rc, err, _ in results]


@pytest.fixture()
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 256, (48, 64, 3), np.uint8))
    return path


@pytest.fixture()
def tiny_style(rtstyle_home) -> str:
    torch.manual_seed(0)
    folder = rtstyle_home / "styles"
    folder.mkdir(parents=True, exist_ok=True)
    save_model(folder / "tiny.safetensors", build_net("fst", widths=[4, 8, 8], res_blocks=1),
               {"style": "tiny", "source": "test", "licence": "CC0"})
    return "tiny"


def model_file(path: Path, meta: object, tensors: dict | None = None) -> Path:
    """A safetensors file with rtstyle metadata `meta` (any JSON, or raw text)."""
    raw = meta if isinstance(meta, str) else json.dumps(meta)
    path.write_bytes(save(tensors or {"x": torch.zeros(1)}, metadata={"rtstyle": raw}))
    return path


def ml5_folder(folder: Path) -> Path:
    """A complete ml5/TF.js fast-style checkpoint of zeros (shapes from the real net)."""
    folder.mkdir(parents=True)
    manifest = {}
    for name, shape in _fst_tf_shapes().items():
        (folder / name).write_bytes(bytes(4 * int(np.prod(shape))))
        manifest[name] = {"filename": name, "shape": list(shape)}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def set_entry(folder: Path, name: str, **entry) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest[name].update(entry)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def tiny_onnx(path: Path, dims: list, meta: dict | None = None) -> Path:
    """A one-node uint8 NHWC graph (an identity 'style'); `dims` is its declared input."""
    x = helper.make_tensor_value_info("frames", TensorProto.UINT8, dims)
    y = helper.make_tensor_value_info("styled", TensorProto.UINT8, dims)
    graph = helper.make_graph([helper.make_node("Identity", ["frames"], ["styled"])], "g",
                              [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if meta is not None:
        model.metadata_props.add(key="rtstyle", value=json.dumps(meta))
    onnx.save(model, str(path))
    return path


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()


# 1. Catalogue operations stay inside the catalogue.

@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_remove_never_deletes_outside_the_catalogue(capsys, rtstyle_home, tmp_path, how):
    victims = tmp_path / "victims"
    victims.mkdir()
    for suffix in (".safetensors", ".onnx"):
        (victims / f"victim{suffix}").write_bytes(b"precious")
    name = (str(victims / "victim") if how == "absolute"
            else os.path.relpath(victims / "victim", rtstyle_home / "styles"))
    one_line_error(run(capsys, "styles", "remove", name), "not allowed")
    assert sorted(p.name for p in victims.iterdir()) == ["victim.onnx", "victim.safetensors"]


@pytest.mark.parametrize("name", ["evil\n", "../evil", "a/b", ".hidden", "x" * 1000])
def test_bad_style_names_are_refused_before_any_work(capsys, rtstyle_home, tmp_path, name):
    ml5 = ml5_folder(tmp_path / "ckpt")
    one_line_error(run(capsys, "styles", "import", ml5, "--name", name), "style name")
    assert not files_under(rtstyle_home) and not (tmp_path / "evil").exists()


# 2. An ml5 manifest's file names must stay inside its folder, as regular files of the
#    size their declared shape needs.

@pytest.mark.parametrize("filename", ["../../secret.bin", "../../../../../../etc/passwd",
                                      "link", "sub"])
def test_manifest_cannot_read_outside_its_folder(capsys, rtstyle_home, tmp_path, filename):
    """(/dev/zero and FIFOs, which a regression would read forever, are in the bounded run.)"""
    ml5 = ml5_folder(tmp_path / "a" / "b" / "ckpt")
    shape = _fst_tf_shapes()["Variable"]
    secret = tmp_path / "a" / "secret.bin"  # what "../../secret.bin" names from ckpt's files
    secret.write_bytes(bytes(4 * int(np.prod(shape))))  # exactly the size conv1 needs
    (ml5 / "link").symlink_to(secret)
    (ml5 / "sub").mkdir()
    set_entry(ml5, "Variable", filename=filename)
    line = one_line_error(run(capsys, "styles", "import", ml5, "--name", "x"))
    assert "not inside" in line or "not a regular file" in line
    if filename.endswith("passwd"):
        assert "bytes" not in line  # the size of a file outside is never told
    assert not files_under(rtstyle_home / "styles") - {".locks"}


@pytest.mark.parametrize("manifest,words", [
    ("not json {", "not valid JSON"), ("[1, 2]", "not an ml5 manifest"),
    ({"Variable": {"filename": "Variable", "shape": [2**32, 2**32]}}, "48"),
])
def test_malformed_manifest(capsys, tmp_path, manifest, words):
    ml5 = ml5_folder(tmp_path / "ckpt")
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (ml5 / "manifest.json").write_text(text)
    one_line_error(run(capsys, "styles", "import", ml5), words)


def test_declared_shape_is_checked_before_reading(capsys, tmp_path):
    ml5 = ml5_folder(tmp_path / "ckpt")
    set_entry(ml5, "Variable_3", shape=[2**32, 2**32])
    one_line_error(run(capsys, "styles", "import", ml5), "Variable_3", "another architecture")


def test_complete_synthetic_checkpoint_imports(capsys, rtstyle_home, tmp_path):
    r = run(capsys, "styles", "import", ml5_folder(tmp_path / "ckpt"), "--name", "zeros")
    assert r[0] == 0, r[2]
    assert (rtstyle_home / "styles" / "zeros.safetensors").is_file()


# 3 and 4. Model-file claims are checked before anything is built; bad metadata is one line.

@pytest.mark.parametrize("meta,words", [
    ("not json", "not JSON"), ([1, 2], "not a JSON object"), ({"format": "rtstyle-model"},
                                                              "architecture"),
    ({"arch": "fst", "options": {"colour": 1}}, "unknown 'fst' option"),
    ({"arch": "fst", "options": {"res_blocks": "five"}}, "res_blocks"),
    ({"arch": "fst", "options": {"widths": [1, 2]}}, "widths"),
    ({"arch": "lite", "options": {"separable": "yes"}}, "separable"),
    ({"arch": "nope"}, "unknown architecture"),
    ({"arch": "fst", "options": {"res_blocks": 1}}, "does not fit"),  # tensors do not match
])
def test_malformed_model_metadata(capsys, tmp_path, photo, meta, words):
    style = model_file(tmp_path / "bad.safetensors", meta)
    one_line_error(run(capsys, "image", photo, "-o", tmp_path / "o.png", "--style", style,
                       "--backend", "torch"), words)
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("raw", ["not json", "[1]"])
def test_onnx_with_malformed_metadata(capsys, tmp_path, photo, raw):
    graph = tiny_onnx(tmp_path / "g.onnx", [1, None, None, 3])
    proto = onnx.load(str(graph))
    proto.metadata_props.add(key="rtstyle", value=raw)
    onnx.save(proto, str(graph))
    one_line_error(run(capsys, "styles", "import", graph), "metadata")
    one_line_error(run(capsys, "image", photo, "-o", tmp_path / "o.png", "--style", graph))


def test_wrong_tensor_shape_is_refused_before_the_net_is_built(capsys, tmp_path, photo):
    state = build_net("fst", widths=[4, 8, 8], res_blocks=1).state_dict()
    state["res1.conv1.conv2d.weight"] = torch.zeros(2, 2)
    meta = {"arch": "fst", "options": {"widths": [4, 8, 8], "res_blocks": 1}}
    style = model_file(tmp_path / "odd.safetensors", meta, state)
    one_line_error(run(capsys, "image", photo, "-o", tmp_path / "o.png", "--style", style,
                       "--backend", "torch"), "res1.conv1.conv2d.weight")


def test_memory_bombs_fail_in_bounded_memory(rtstyle_home, tmp_path, photo):
    """Huge claims (nets, ONNX sizes, /dev/zero and FIFO manifests) in one `ulimit -v` run."""
    out = tmp_path / "o.png"
    blocks = model_file(tmp_path / "blocks.safetensors",
                        {"arch": "fst", "options": {"res_blocks": 10_000_000}})
    wide = model_file(tmp_path / "wide.safetensors",
                      {"arch": "johnson", "options": {"widths": [200000, 200000, 200000]}})
    big_input = tiny_onnx(tmp_path / "big_input.onnx", [1, 100000, 100000, 3])
    fixed = tiny_onnx(tmp_path / "fixed.onnx", [1, None, None, 3],
                      {"onnx_io": "frames", "fixed_size": [100000, 100000]})
    zero = ml5_folder(tmp_path / "zero")
    set_entry(zero, "Variable_6", filename="/dev/zero")
    fifo = ml5_folder(tmp_path / "fifo")
    (fifo / "Variable_6").unlink()
    os.mkfifo(fifo / "Variable_6")
    huge_png = tmp_path / "huge.png"  # a header claiming 20000x20000, then nothing
    huge_png.write_bytes(png_header(20000, 20000))
    bomb_png = tmp_path / "bomb.png"
    bomb_png.write_bytes(png_header(100000, 100000))
    cases = [
        ["image", photo, "-o", out, "--style", blocks, "--backend", "torch"],
        ["image", photo, "-o", out, "--style", wide, "--backend", "torch"],
        ["styles", "import", big_input],
        ["image", photo, "-o", out, "--style", fixed, "--backend", "onnxruntime"],
        ["styles", "import", zero],
        ["styles", "import", fifo],
        ["image", huge_png, "-o", out, "--style", "udnie-lite"],
        ["image", bomb_png, "-o", out, "--style", "udnie-lite", "--max-size", "512"],
    ]
    words = ["res_blocks", "widths", "too large", "too large", "not inside",
             "not a regular file", "--max-size", "pixels"]
    for result, w in zip(run_bounded(cases, rtstyle_home), words, strict=True):
        one_line_error(result, w)
    assert not out.exists()
    assert not files_under(rtstyle_home / "styles") - {".locks"}


def png_header(w: int, h: int) -> bytes:
    """An RGB PNG's signature, IHDR and the start of its pixel data: a small file that
    claims a huge image."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(4096))))


# 5. Outputs must be regular files; names are checked before slow work.

def test_train_checks_the_name_before_training(capsys, rtstyle_home, tmp_path, photo):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        cv2.imwrite(str(data / f"{i}.png"), cv2.imread(str(photo)))
    one_line_error(run(capsys, "train", "--style-image", photo, "--data", data,
                       "-o", "../evil", "--steps", "1"), "style name")
    assert not files_under(rtstyle_home) and not (rtstyle_home.parent / "evil").exists()


@pytest.mark.parametrize("kind", ["chardev", "fifo", "link-to-chardev"])
def test_devices_and_fifos_are_never_replaced(capsys, tmp_path, photo, tiny_style, kind):
    dev = tmp_path / "full"
    if kind == "fifo":
        os.mkfifo(dev)
    else:
        try:  # a char device like /dev/full, but in the test's own folder
            os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        except PermissionError:
            pytest.skip("mknod needs root (CAP_MKNOD)")
    target = dev
    if kind == "link-to-chardev":
        target = tmp_path / "link.png"
        target.symlink_to(dev)
    one_line_error(run(capsys, "image", photo, "-o", target, "--style", tiny_style),
                   "not a regular file")
    one_line_error(run(capsys, "export", "--style", tiny_style, "-o", target),
                   "not a regular file")
    mode = dev.lstat().st_mode
    assert (stat.S_ISFIFO(mode) if kind == "fifo" else stat.S_ISCHR(mode))
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_unknown_image_extension_fails_before_the_model_loads(capsys, tmp_path, photo):
    one_line_error(run(capsys, "image", photo, "-o", tmp_path / "o.xyz", "--style", "nope"),
                   "extension")


# 6. Numbers have bounds.

@pytest.mark.parametrize("argv,words", [
    (["image", "{photo}", "-o", "{out}", "--threads", "-1"], "--threads"),
    (["image", "{photo}", "-o", "{out}", "--max-size", "100000"], "--max-size"),
    (["export", "--style", "udnie-lite", "--size", "100000x100000"], "too large"),
    (["train", "--style-image", "{photo}", "--data", "{tmp}", "-o", "t", "--threads", "-1"],
     "--threads"),
    (["train", "--style-image", "{photo}", "--data", "{tmp}", "-o", "t", "--size", "1000000"],
     "--size"),
    (["train", "--style-image", "{photo}", "--data", "{tmp}", "-o", "t", "--lr", "nan"],
     "--lr"),
    (["train", "--style-image", "{photo}", "--data", "{tmp}", "-o", "t", "--batch", "100000"],
     "--batch"),
    (["train", "--style-image", "{photo}", "--data", "{tmp}", "-o", "t",
      "--style-weight", "inf"], "--style-weight"),
    (["video", "{photo}", "-o", "{tmp}/o.mp4", "--threads", "-1"], "--threads"),
    (["video", "{photo}", "-o", "{tmp}/o.mp4", "--batch", "1000000000"], "--batch"),
    (["video", "{photo}", "-o", "{tmp}/o.mp4", "--size", "100000x100000"], "too large"),
    (["webcam", "--demo", "--no-display", "--max-frames", "1", "--threads", "-1"], "--threads"),
    (["webcam", "--demo", "--no-display", "--max-frames", "1", "--size", "20000x20000"],
     "too large"),
    (["bench", "--sizes", "100000x100000"], "too large"),
    (["bench", "--max-seconds", "nan"], "--max-seconds"),
    (["batch", "{photo}", "-o", "{tmp}/out", "--threads", "-1"], "--threads"),
    (["batch", "{photo}", "-o", "{tmp}/out", "--segment-seconds", "nan"], "--segment-seconds"),
    (["batch", "{photo}", "-o", "{tmp}/out", "--backend", "nope"], "unknown backend"),
])
def test_numbers_out_of_bounds(capsys, rtstyle_home, tmp_path, photo, argv, words):
    fill = {"photo": photo, "out": tmp_path / "o.png", "tmp": tmp_path}
    one_line_error(run(capsys, *(a.format(**fill) for a in argv)), words)
    assert not files_under(rtstyle_home)


@pytest.fixture()
def unwritable_home(monkeypatch, tmp_path) -> Path:
    """$RTSTYLE_HOME below a regular file: nothing can be created there, even by root."""
    (tmp_path / "blocker").write_text("")
    home = tmp_path / "blocker" / "home"
    monkeypatch.setenv("RTSTYLE_HOME", str(home))
    return home


def test_unwritable_home_on_import_and_train(capsys, unwritable_home, tmp_path, photo):
    one_line_error(run(capsys, "styles", "import", ml5_folder(tmp_path / "ckpt")),
                   "cannot create")
    one_line_error(run(capsys, "styles", "remove", "ckpt"), "no user style")
    one_line_error(run(capsys, "train", "--style-image", photo, "--data", tmp_path,
                       "-o", "t", "--steps", "1"), "cannot create")


def test_unwritable_home_still_stylises_with_a_temporary_cache(capsys, unwritable_home,
                                                               tmp_path, photo):
    out = tmp_path / "o.png"
    rc, _, err = run(capsys, "image", photo, "-o", out, "--style", "udnie-lite",
                     "--backend", "onnxruntime")
    assert rc == 0, err
    assert "temporary folder" in err and "Traceback" not in err
    assert cv2.imread(str(out)).shape == (48, 64, 3)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_home_on_remove(capsys, rtstyle_home, tiny_style):
    folder = rtstyle_home / "styles"
    folder.chmod(0o555)
    try:
        one_line_error(run(capsys, "styles", "remove", tiny_style), "cannot")
    finally:
        folder.chmod(0o755)
    assert (folder / "tiny.safetensors").exists()


# 8. Leftovers of killed writers are cleaned; one writer per style name at a time.

def test_stale_partials_of_killed_imports_are_cleaned(capsys, rtstyle_home, tmp_path):
    folder = rtstyle_home / "styles"
    folder.mkdir(parents=True)
    stale = [folder / ".mix.0123abcd.partial.safetensors", folder / ".old.89abcdef.partial.onnx"]
    for p in stale:
        p.write_bytes(b"half a model")  # what a SIGKILL during an import leaves
    (folder / ".keep.partial.safetensors").write_bytes(b"not ours")  # not rtstyle's naming
    r = run(capsys, "styles", "import", ml5_folder(tmp_path / "ckpt"), "--name", "mix")
    assert r[0] == 0, r[2]
    assert not any(p.exists() for p in stale)
    assert (folder / ".keep.partial.safetensors").exists()
    assert "mix" in run(capsys, "styles", "list")[1]


def test_one_writer_per_style_name(rtstyle_home, tmp_path):
    """An import waits for the name's lock; concurrent imports leave exactly one file."""
    import filelock

    from rtstyle.styles.catalogue import import_style

    ml5 = ml5_folder(tmp_path / "ckpt")
    graph = tiny_onnx(tmp_path / "g.onnx", [1, None, None, 3])
    folder = rtstyle_home / "styles"
    (folder / ".locks").mkdir(parents=True)
    lock = filelock.FileLock(folder / ".locks" / "mix.lock")
    lock.acquire()
    done = threading.Event()
    t = threading.Thread(target=lambda: (import_style(ml5, "mix"), done.set()))
    t.start()
    time.sleep(1.5)
    assert not done.is_set() and not (folder / "mix.safetensors").exists()
    lock.release()
    t.join(60)
    assert done.is_set() and (folder / "mix.safetensors").exists()

    errors = []

    def worker(path):
        try:
            for _ in range(3):
                import_style(path, "mix")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(p,)) for p in (ml5, graph)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors
    assert len([p for p in folder.glob("mix.*")]) == 1
    assert not [p for p in folder.iterdir() if "partial" in p.name]


# 9. Truncated JPEGs are refused, not stylised with a grey bottom.

def test_truncated_jpeg_is_refused(capsys, tmp_path, photo, tiny_style):
    ok, buf = cv2.imencode(".jpg", cv2.imread(str(photo)))
    data = buf.tobytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 2])
    one_line_error(run(capsys, "image", cut, "-o", tmp_path / "o.png", "--style", tiny_style),
                   "truncated JPEG")
    assert not (tmp_path / "o.png").exists()
    extra = tmp_path / "extra.jpg"  # data after the end marker (e.g. a motion photo) is fine
    extra.write_bytes(data + b"\x00" * 64 + b"ftypmp42")
    r = run(capsys, "image", extra, "-o", tmp_path / "o.png", "--style", tiny_style,
            "--backend", "torch")
    assert r[0] == 0, r[2]


def test_truncated_png_is_refused(capsys, tmp_path, photo, tiny_style):
    data = photo.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) // 2])
    one_line_error(run(capsys, "image", cut, "-o", tmp_path / "o.png", "--style", tiny_style),
                   "truncated PNG")


def test_jpeg_check_skips_exif_thumbnails():
    """A thumbnail's own end marker in EXIF must not hide a truncated main image."""
    from rtstyle.images import jpeg_is_truncated

    ok, thumb = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    ok, main_ = cv2.imencode(".jpg", np.full((64, 64, 3), 90, np.uint8))
    payload = b"Exif\x00\x00" + thumb.tobytes()
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    full = main_.tobytes()[:2] + app1 + main_.tobytes()[2:]
    assert not jpeg_is_truncated(full)
    assert jpeg_is_truncated(full[: len(full) - 40])
    assert cv2.imdecode(np.frombuffer(full, np.uint8), cv2.IMREAD_COLOR) is not None


# 10. The 349-case probe: what it still broke (issue 28), each kept fixed here.

def test_empty_image_is_one_line(capsys, tmp_path, tiny_style):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    one_line_error(run(capsys, "image", empty, "-o", tmp_path / "r.jpg", "--style", tiny_style),
                   "empty (0 bytes)")


def test_onnx_declared_input_is_checked_on_the_default_backend(capsys, tmp_path, photo):
    """No --backend: OpenVINO, where it is installed, ran a 100000x100000 input at exit 0."""
    big = tiny_onnx(tmp_path / "big_input.onnx", [1, 100000, 100000, 3])
    for backend in ("auto", "onnxruntime"):
        one_line_error(run(capsys, "image", photo, "-o", tmp_path / "o.png", "--style", big,
                           "--backend", backend), "declared input", "too large")
    assert not (tmp_path / "o.png").exists()


def test_huge_style_image_is_refused_from_its_header(capsys, tmp_path, photo):
    """A 20000x20000 painting would be a 1.2 GB decode for a 256 px style."""
    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header(20000, 20000))
    one_line_error(run(capsys, "image", photo, "-o", tmp_path / "o.png", "--style-image", huge),
                   "style image", "20000x20000", "scale it down")


def _train_swap(capsys, tmp_path, photo, *extra):
    for d in ("photos", "paintings"):
        (tmp_path / d).mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / d / "a.png"), cv2.imread(str(photo)))
    return run(capsys, "train-swap", "--photos", tmp_path / "photos", "--paintings",
               tmp_path / "paintings", "-o", tmp_path / "d.safetensors", "--steps", "1",
               "--size", "32", *extra)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("kind", ["corrupt", "malicious", "foreign", "missing"])
def test_train_swap_resume_checks_its_checkpoint(capsys, tmp_path, photo, monkeypatch, kind):
    import pickle

    monkeypatch.chdir(tmp_path)
    ckpt = tmp_path / "d.ckpt"
    if kind == "corrupt":
        ckpt.write_bytes(np.random.default_rng(0).bytes(4096))
    elif kind == "malicious":
        ckpt.write_bytes(pickle.dumps(_Evil()))
    elif kind == "foreign":  # a safetensors file without a train-swap run's state
        ckpt.write_bytes(save({"weights": torch.zeros(2)}))
    words = {"corrupt": "unreadable", "malicious": "unreadable",
             "foreign": "not a train-swap checkpoint", "missing": "nothing to resume"}[kind]
    one_line_error(_train_swap(capsys, tmp_path, photo, "--resume"), words)
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "d.safetensors").exists()


def test_bench_refuses_a_corrupt_style_it_was_given(capsys, tmp_path):
    bad = tmp_path / "random.safetensors"
    bad.write_bytes(np.random.default_rng(0).bytes(1000))
    one_line_error(run(capsys, "bench", "--style", bad, "--json", tmp_path / "b.json"),
                   "random.safetensors")
    assert not (tmp_path / "b.json").exists()


def _namespace(script: str, **env) -> subprocess.CompletedProcess:
    """`script` (sh) as root of a new user, mount and network namespace with only
    loopback: read-only mounts without touching the machine, Ray on loopback only."""
    from conftest import loopback_namespace_problem

    problem = loopback_namespace_problem()
    if problem:
        pytest.skip(f"cannot make a user/network namespace ({problem})")
    return subprocess.run(["unshare", "-rmn", "sh", "-c", "ip link set lo up && " + script],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def _clip(tmp_path) -> Path:
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[cluster]')")
    from video_media import make_clip

    return make_clip(tmp_path / "clip.mp4", seconds=0.6, size="64x48", audio=None)


def test_batch_into_a_read_only_folder_is_one_line(tmp_path):
    clip = _clip(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    r = _namespace(f"mount -t tmpfs -o ro,size=1m tmpfs {ro} && exec {sys.executable} -m "
                   f"rtstyle batch {clip} -o {ro} --style udnie-lite")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]
    assert "cannot write to output folder" in lines[0] and "Read-only" in lines[0]


def test_local_ray_starts_under_a_long_tmpdir_and_6_gb(tmp_path):
    """Ray's sockets would pass the AF_UNIX 107-byte limit under this TMPDIR, and its
    default object store (30% of RAM) alone would break `ulimit -v 6000000`."""
    clip = _clip(tmp_path)
    tmpdir = tmp_path / ("long-temporary-folder-" + "x" * 40)
    tmpdir.mkdir()
    out = tmp_path / "out"
    r = _namespace(f"ulimit -v {MEMORY_KB} && exec {sys.executable} -m rtstyle batch {clip} "
                   f"-o {out} --style udnie-lite --segment-seconds 0", TMPDIR=str(tmpdir))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-3000:]
    assert cv2.VideoCapture(str(out / "clip.mp4")).read()[0]
    assert not list(tmpdir.rglob("session_*"))  # Ray's own folder went elsewhere


WEBM_UNDER_LIMIT = r"""
import numpy as np
from rtstyle.errors import RtstyleError
from rtstyle.video.encode import VideoFileWriter
try:
    with VideoFileWriter("o.webm", 25, (1920, 1080), threads=16) as w:
        for _ in range(3):
            w.write(np.zeros((1080, 1920, 3), np.uint8))
    print("fits")
except RtstyleError as e:
    print(f"rtstyle: error: {e}")
"""


def test_webm_encoder_short_of_memory_says_so(tmp_path):
    """libvpx under an address-space limit fails with 'Invalid argument' or 'Invalid data':
    the line must point at memory, not at free space and permissions."""
    r = subprocess.run(["bash", "-c", f"ulimit -v 700000; exec {shlex.quote(sys.executable)} "
                        f"-c {shlex.quote(WEBM_UNDER_LIMIT)}"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=120)
    if r.stdout.strip() == "fits":
        pytest.skip("VP9 at 1080p fits in 700 MB of address space on this machine")
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    line = r.stdout.strip()
    assert line.startswith("rtstyle: error: could not write") and "memory" in line, line
    assert "free space" not in line
    assert not [p for p in tmp_path.iterdir() if p.name != "o.webm" and "webm" in p.name]
    assert not (tmp_path / "o.webm").exists()


def test_serve_answers_hostile_json_and_huge_lines_with_400(tmp_path):
    pytest.importorskip("aiortc")
    import http.client as httplib

    from serve_helpers import http, running_server

    work = tmp_path / "cwd"
    work.mkdir()
    with running_server(cwd=work) as (url, log):
        offer = url + "api/offer"
        nested = b"[" * 200_000
        status, body = http("POST", offer, nested, {"Content-Type": "application/json"})
        assert status == 400 and "JSON" in body["error"], (status, body)
        status, body = http("POST", offer, {"sdp": "v=0\r\n", "type": "offer", "style": 123})
        assert status == 400 and "style" in body["error"], (status, body)
        host, port = url.split("//")[1].rstrip("/").split(":")
        for path, headers in (("/api/status", {"X-Big": "x" * 200_000}),
                              ("/api/status?" + "a" * 65536, {})):
            conn = httplib.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", path, headers=headers)
            assert conn.getresponse().status == 400
            conn.close()
        assert http("GET", url + "api/status")[0] == 200  # still serving
    text = log.read_text()
    assert "Traceback" not in text and "RecursionError" not in text, text[-2000:]


def test_no_third_party_lines_before_the_error(tmp_path):
    """A file that is not a video (FFmpeg's own 'moov atom not found' came first) and a
    .pth that is not a state dict: the one error line is the only line."""
    from conftest import cli

    fake = tmp_path / "fake.mp4"
    fake.write_text("hello")
    pth = tmp_path / "r.pth"
    pth.write_bytes(np.random.default_rng(0).bytes(3000))
    for args in (["webcam", "--source", str(fake), "--no-display", "--max-frames", "1"],
                 ["styles", "import", str(pth)]):
        r = cli(*args, timeout=120)
        one_line_error((r.returncode, r.stdout, r.stderr))


# 11. The probe's judgement calls, as decided in docs/hardening.md.

def test_empty_name_is_refused_and_shadowing_is_said(capsys, rtstyle_home, tmp_path):
    ml5 = ml5_folder(tmp_path / "ckpt")
    one_line_error(run(capsys, "styles", "import", ml5, "--name", ""), "style name")
    rc, out, err = run(capsys, "styles", "import", ml5, "--name", "udnie")
    assert rc == 0, err
    assert "hides the built-in 'udnie'" in out and "styles remove udnie" in out


@pytest.mark.parametrize("size,words", [("1x1", "smaller than 16"),
                                        ("8200x16", "larger than 8192")])
def test_videos_out_of_bounds_are_refused_like_images(capsys, tmp_path, tiny_style, size,
                                                      words):
    from video_media import FFMPEG

    clip = tmp_path / "odd.mkv"
    subprocess.run([FFMPEG, "-v", "error", "-f", "lavfi", "-i",
                    f"color=c=red:size={size}:rate=5:duration=0.4", "-c:v", "ffv1",
                    str(clip)], check=True)
    one_line_error(run(capsys, "video", clip, "-o", tmp_path / "o.mp4", "--style", tiny_style,
                       "--backend", "torch"), words)
    assert not (tmp_path / "o.mp4").exists()


def test_export_to_a_folder_name_is_refused(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    one_line_error(run(capsys, "export", "--style", "udnie-lite", "-o", "newdir/"),
                   "names a folder")
    assert not (tmp_path / "newdir").exists()
