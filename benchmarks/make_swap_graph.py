"""Make the style-swap graph that ships: rtstyle/builtin/swap_graph.onnx.

The torch export (rtstyle.swap.model) of the built-in decoder with the built-in VGG19
slice, both from their .safetensors in rtstyle/builtin/. The light install runs it without
torch (rtstyle/swap/graph.py); the decoder's int8 ranges (make_swap_int8_ranges.py) name
its tensors, so re-make those whenever this changes. tests/test_light.py checks the
shipped file against a fresh export.

Run:   python benchmarks/make_swap_graph.py   (needs rtstyle[train])
"""

from __future__ import annotations

import onnx

from rtstyle.export.onnx import set_metadata
from rtstyle.files import atomic_output
from rtstyle.swap.graph import BUILTIN_DECODER, FORMAT, SHIPPED_GRAPH
from rtstyle.swap.model import export_swap_onnx, load_swap_model


def main() -> None:
    export_swap_onnx(load_swap_model(BUILTIN_DECODER, "builtin"), SHIPPED_GRAPH)
    graph = onnx.load(str(SHIPPED_GRAPH))
    # the style catalogue scans builtin/: this format says the file is not a style
    set_metadata(graph, {"format": FORMAT, "made_by": "benchmarks/make_swap_graph.py"})
    with atomic_output(SHIPPED_GRAPH) as tmp:
        onnx.save(graph, str(tmp))
    SHIPPED_GRAPH.chmod(0o644)  # written private (mkstemp); it is package data
    print(f"wrote {SHIPPED_GRAPH} ({SHIPPED_GRAPH.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
