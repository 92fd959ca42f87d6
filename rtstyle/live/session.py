"""A whole live run as one library call: open the source, find the size, load and warm
up the first style, run the pipeline with its sinks, and report.

Commands (`rtstyle webcam`) and other front ends only describe the run in `LiveRun`.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtstyle.engines import Engine, open_engine
from rtstyle.errors import RtstyleError
from rtstyle.limits import Size
from rtstyle.live.controls import Controls
from rtstyle.live.menu import StyleMenu
from rtstyle.live.pipeline import Controller, Pipeline
from rtstyle.live.sources import Source, open_source
from rtstyle.sinks.base import Sink


def log_to_stderr(message: str) -> None:
    print(f"rtstyle: {message}", file=sys.stderr, flush=True)


@dataclass
class LiveRun:
    """Everything a live run needs to know; `sinks` get the window size at start."""

    menu: StyleMenu
    source: str | None = None  # camera index, /dev/videoN, file or URL; None: camera 0
    demo: bool = False
    size: Size | None = None  # None: the camera's default, or a file's own size
    backend: str = "auto"
    threads: int | None = None
    precision: str = "auto"  # see engines/precision.py
    mix: float = 0.5  # the share of b for a blended style "a+b" (engines/blend.py)
    region: str | None = None  # "person"/"background": stylise only that part (region/)
    swap: Any = None  # engines.swap.Budget for paintings
    controls: Controls = field(default_factory=Controls)
    loop: bool = False
    max_frames: int | None = None
    reconnect_timeout: float = 10.0
    record_to: Path | None = None
    output_dir: Path = Path(".")
    stabilize: bool = False
    instant: dict[str, Any] = field(default_factory=dict)  # live.instant.Handover options
    # Outputs beyond recordings and screenshots, made once the source is open (a window
    # title names the source): (source, hud) -> sinks, where hud() gives the HUD's lines.
    # Sinks that also `poll` are controllers.
    make_sinks: Callable[[Source, Callable[[], list[str]]], list[Sink]] = \
        lambda source, hud: []
    controllers: list[Controller] = field(default_factory=list)  # e.g. an ActionQueue
    log: Callable[[str], None] = log_to_stderr


def _first_size(source: Source) -> Size:
    """Process at the source's own size: read one frame, then rewind a file."""
    first = source.read()
    if first is None:
        raise RtstyleError(f"{source.description} gave no frames; check it works in another "
                           "program, or use --demo")
    if not source.live:
        source.reopen()  # start a file from its first frame again
    return Size(first.shape[1], first.shape[0])


def _with_region(load: Callable[[Any], Engine], region: str,
                 threads: int | None) -> Callable[[Any], Engine]:
    """`load`, each engine wrapped to stylise only `region`, sharing one loaded mask model."""
    from rtstyle.region import with_region
    from rtstyle.region.segmenter import Segmenter

    segmenter = Segmenter(threads)
    return lambda spec: with_region(load(spec), region, segmenter=segmenter)


def open_live(run: LiveRun) -> Pipeline:
    """Open the source, find the size, load and warm up the first style and build the
    pipeline with its sinks, ready to enter (`with pipeline: pipeline.run()`). Everything
    opened here is released again if a step fails."""
    load = functools.partial(open_engine, backend=run.backend, threads=run.threads,
                             swap=run.swap, precision=run.precision, mix=run.mix)
    if run.region is not None:  # every style the keys switch to gets the same mask
        load = _with_region(load, run.region, run.threads)
    source = open_source(run.source, run.size, demo=run.demo)
    sinks: list[Sink] = []
    pipeline: Pipeline | None = None

    def hud() -> list[str]:
        return pipeline.hud_lines() if pipeline is not None else []

    try:
        size = run.size or _first_size(source)
        label, spec = run.menu.current()
        run.log(f"loading {label} on {run.backend} for {size[0]}x{size[1]} from "
                f"{source.description}")
        engine = load(spec)
        engine.warmup(size[1], size[0], runs=1)
        sinks = run.make_sinks(source, hud)
    except BaseException:
        source.release()
        for sink in sinks:
            sink.close()
        raise
    pipeline = Pipeline(source, run.menu, engine, load=load, size=tuple(size),
                        controls=run.controls, sinks=sinks,
                        controllers=[*run.controllers, *(s for s in sinks if hasattr(s, "poll"))],
                        loop=run.loop, max_frames=run.max_frames,
                        reconnect_timeout=run.reconnect_timeout, record_to=run.record_to,
                        output_dir=run.output_dir, stabilize=run.stabilize,
                        instant=run.instant, log=run.log)
    return pipeline


def run_live(run: LiveRun) -> dict[str, Any]:
    """Run until the source ends, `max_frames`, quit or Ctrl-C/SIGTERM; returns the stats,
    whose "error" says why a run that failed midway ended (everything is cleaned up)."""
    pipeline = open_live(run)
    # A polite `kill` finishes recordings like Ctrl-C does, instead of cutting them off.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with pipeline:
            pipeline.run()
    except KeyboardInterrupt:
        run.log("stopped")
    finally:
        pipeline.release()
    stats = pipeline.stats()
    e2e = stats["fps_end_to_end"] or 0.0
    run.log(f"{stats['frames_captured']} frames captured, {stats['frames_processed']} "
            f"stylised, {stats['frames_dropped']} dropped; {e2e:.1f} FPS end to end, latency "
            f"p50 {stats['latency_ms_p50'] or 0:.0f} ms")
    return stats
