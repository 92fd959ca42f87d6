"""The shipped style-swap graph, and its encoder part: style-swap without torch.

The built-in decoder and VGG19 slice ship as one fp32 ONNX graph (builtin/swap_graph.onnx:
frames, a painting's index and colour statistics in, stylised frames out), made from
their .safetensors by `python benchmarks/make_swap_graph.py`: the torch export that the
maker side (swap/model.py) runs for any other decoder. It is shipped rather than written
with onnx.helper because it is the swap op's export (op.py: pads, gathers, a dynamic
paste, Newton-Schulz whitening) and because the decoder's int8 ranges name its tensors
as torch's exporter does. The painting's encoder is cut out of the same graph, so one
file serves both; the painting's statistics are numpy (swap/index.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnx

from rtstyle.errors import RtstyleError
from rtstyle.files import atomic_output
from rtstyle.swap.index import StyleColour, StyleIndex

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "builtin"
BUILTIN_DECODER = BUILTIN_DIR / "swap_decoder.safetensors"
SHIPPED_GRAPH = BUILTIN_DIR / "swap_graph.onnx"
# the swap graph's inputs after `frames`: the painting's index and colour statistics
INDEX_INPUTS = StyleIndex._fields + StyleColour._fields  # (index.style_feeds' keys)
FORMAT = "rtstyle-swap-graph"  # its metadata's format: not a style (styles/catalogue.py)
ENCODER_PREFIX = "/encoder/"  # the encoder's node names in the export (int8.py's too)


def encoder_output(graph: onnx.ModelProto) -> str:
    """The tensor the encoder hands to the swap: relu3_1, the last encoder node's output."""
    names = [n.output[0] for n in graph.graph.node if n.name.startswith(ENCODER_PREFIX)]
    if not names:
        raise RtstyleError("the style-swap graph has no encoder nodes; re-make it with "
                           "benchmarks/make_swap_graph.py")
    return names[-1]


def encoder_graph(swap_graph: Path, cache: Path) -> Path:
    """The encoder part of `swap_graph` (frames in, relu3_1 features out), cut out once
    and kept in `cache`: what turns a painting into features without torch."""
    digest = hashlib.sha256(Path(swap_graph).read_bytes()).hexdigest()[:16]
    out = cache / f"swap-encoder-{digest}.onnx"
    if not out.exists():
        full = onnx.load(str(swap_graph))
        features = encoder_output(full)  # declared, so the extractor knows its type
        full.graph.value_info.append(onnx.helper.make_tensor_value_info(
            features, onnx.TensorProto.FLOAT, None))
        part = onnx.utils.Extractor(full).extract_model(["frames"], [features])
        part.ir_version = full.ir_version
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(out) as tmp:
            onnx.save(part, str(tmp))
    return out
