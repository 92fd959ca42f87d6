"""Capture: the newest-frame buffer, file pacing and looping, sources and their errors.

Everything runs on real OpenCV captures of small video files written here.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from rtstyle.errors import RtstyleError
from rtstyle.limits import parse_size
from rtstyle.live.capture import CaptureThread
from rtstyle.live.slot import NewestSlot
from rtstyle.live.sources import (
    CaptureSource,
    api_name,
    camera_backends,
    open_source,
    video_devices,
)
from rtstyle.live.sources.demo import DemoClip

SIZE = (64, 48)
STEP = 20  # grey level step between frames, so a frame's index can be read back


def write_clip(path, n: int, fps: float, size=SIZE):
    """An MJPG clip whose frame i is flat grey at level i*STEP."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert out.isOpened()
    for i in range(n):
        out.write(np.full((size[1], size[0], 3), i * STEP, np.uint8))
    out.release()
    return path


def frame_number(image: np.ndarray) -> int:
    return round(float(image.mean()) / STEP)


def test_newest_slot_keeps_only_the_newest_and_counts_the_rest():
    slot = NewestSlot()
    for i in range(3):
        slot.put(i)
    assert slot.take(0) == 2
    assert slot.dropped == 2
    assert slot.take(0.05) is None  # empty: waits, then gives up
    slot.put(7)
    slot.discard()
    assert slot.dropped == 3 and slot.take(0) is None


def test_newest_slot_wakes_a_waiting_taker_on_put_and_on_close():
    slot, got = NewestSlot(), []
    taker = threading.Thread(target=lambda: got.append(slot.take(10)))
    taker.start()
    slot.put("frame")
    taker.join(5)
    assert got == ["frame"]
    taker = threading.Thread(target=lambda: got.append(slot.take(10)))
    taker.start()
    slot.close()
    taker.join(5)
    assert not taker.is_alive() and got == ["frame", None] and slot.closed


def test_file_plays_at_its_own_frame_rate_then_ends(tmp_path):
    clip = write_clip(tmp_path / "c.avi", 10, fps=20)
    source = open_source(str(clip))
    assert not source.live and source.fps == pytest.approx(20)
    slot = NewestSlot()
    capture = CaptureThread(source, slot)
    t0 = time.monotonic()
    capture.start()
    capture.join(10)
    # 10 frames at 20 fps take at least 9 frame periods; read flat out they take ~ms.
    assert time.monotonic() - t0 >= 9 / 20 * 0.9
    assert capture.ended and capture.error is None and capture.captured == 10
    last = slot.take(0)
    assert last.index == 9 and frame_number(last.image) == 9
    assert slot.dropped == 9 and slot.closed  # nobody took the others: dropped, not queued
    assert source.cap is None  # released


def test_loop_restarts_a_file_and_frames_are_resized(tmp_path):
    clip = write_clip(tmp_path / "c.avi", 4, fps=50)
    slot, seen = NewestSlot(), []
    capture = CaptureThread(open_source(str(clip)), slot, size=(32, 24), loop=True)
    capture.start()
    while len(seen) < 10:
        frame = slot.take(5)
        assert frame is not None, "capture stopped"
        seen.append(frame)
    capture.stop()
    capture.join(5)
    assert not capture.ended and not capture.is_alive()
    assert all(f.image.shape == (24, 32, 3) for f in seen)
    numbers = [frame_number(f.image) for f in seen]
    assert any(a == 3 and b == 0 for a, b in zip(numbers, numbers[1:], strict=False)), numbers
    assert [f.index for f in seen] == sorted(f.index for f in seen)


def test_bad_sources_get_one_line_errors(tmp_path):
    with pytest.raises(RtstyleError, match="does not exist"):
        open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(RtstyleError, match="is a folder"):
        open_source(str(tmp_path))
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    with pytest.raises(RtstyleError, match="cannot open .*notes.mp4 as a video") as e:
        open_source(str(text))
    assert "\n" not in str(e.value)
    with pytest.raises(RtstyleError, match="WIDTHxHEIGHT"):
        parse_size("640")
    with pytest.raises(RtstyleError, match="too small"):
        parse_size("8x8")


def test_camera_that_cannot_open_names_the_backends_tried():
    apis = camera_backends()
    with pytest.raises(RtstyleError) as e:
        CaptureSource(99, "camera", apis, (640, 480))
    msg = str(e.value)
    assert msg.startswith("cannot open camera 99 (tried OpenCV backends:")
    assert all(api_name(a) in msg for a in apis) and "--demo" in msg


@pytest.mark.skipif(bool(video_devices()), reason="this machine has a camera")
def test_no_camera_says_so_and_shows_the_alternatives():
    for spec in (None, "0", "/dev/video0"):
        with pytest.raises(RtstyleError, match="no camera found") as e:
            open_source(spec)
        assert "--source FILE" in str(e.value) and "--demo" in str(e.value)


def test_demo_clip_moves_and_is_the_same_every_time():
    a, b = DemoClip((96, 72)), DemoClip((96, 72))
    first = a.read()
    assert first.shape == (72, 96, 3) and first.std() > 20  # a picture, not a flat fill
    later = [a.read() for _ in range(30)][-1]
    assert np.abs(later.astype(int) - first).mean() > 5  # it pans/zooms
    assert np.array_equal(b.read(), first)
    assert a.reopen() and np.array_equal(a.read(), first)
