"""Live stylisation: sources, the newest-frame slot, the inference worker, the pipeline.

The names below are the public API that other front ends (`rtstyle serve`) build on: one
`Controls`, one frame step (`InferWorker`), one pipeline (`LiveRun`, `open_live`).
"""

from rtstyle.live.controls import ActionQueue, Actions, Controls
from rtstyle.live.menu import StyleMenu
from rtstyle.live.pipeline import Pipeline
from rtstyle.live.session import LiveRun, open_live, run_live
from rtstyle.live.slot import Frame, NewestSlot
from rtstyle.live.stats import RunStats
from rtstyle.live.worker import EngineChoice, InferWorker, Output

__all__ = ["ActionQueue", "Actions", "Controls", "EngineChoice", "Frame", "InferWorker",
           "LiveRun", "NewestSlot", "Output", "Pipeline", "RunStats", "StyleMenu", "open_live",
           "run_live"]
