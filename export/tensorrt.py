"""Build TensorRT engines from rtstyle's ONNX exports, and the engine file that carries them.

Written against the TensorRT 10 Python API. It needs an NVIDIA GPU and the `tensorrt`
package (`pip install rtstyle[gpu]`); nothing here runs on a CPU-only machine.

* Precision comes from the ONNX graph itself: the network is built *strongly typed*,
  so the fp16 export (instance norm kept fp32) and the int8 export (symmetric Q/DQ,
  TensorRT's explicit quantisation) run exactly as typed. No implicit INT8 calibrator:
  TensorRT 10.1 deprecated it in favour of Q/DQ graphs.
* Optimisation profiles are narrow around the target size: a wide dynamic profile makes
  TensorRT pick tactics for the worst case and is known to be slow.
* fp32 layers stay fp32: the TF32 flag (on by default, 10-bit mantissas in convs) is
  cleared, in the fp32 engines and in the float parts of the fp16/int8 ones.
* The profile is set on the graph's real input, in its layout: rtstyle's uint8 NHWC
  `frames`, or a foreign float RGB NCHW input, whose fixed dims are kept as they are.
* A timing cache (one per GPU and TensorRT version) makes rebuilds take seconds.
* An rtstyle engine file holds a JSON header, the ONNX it was built from and the
  serialised plan. A plan only runs on the GPU model and TensorRT version that built it;
  when either differs (by header, or when deserialisation fails) the plan is rebuilt
  from the embedded ONNX and cached under $RTSTYLE_HOME/cache/tensorrt.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx

from rtstyle.errors import RtstyleError
from rtstyle.files import atomic_output, write_bytes_atomic
from rtstyle.limits import parse_size

MAGIC = b"RTSTYLE-TRT1\n"
ENGINE_SUFFIX = ".engine"
MAX_BATCH = 4
WORKSPACE = 1 << 30


@dataclass(frozen=True)
class Profile:
    """One optimisation profile over frame sizes (h, w); batch is 1..MAX_BATCH, opt 1."""

    min_hw: tuple[int, int]
    opt_hw: tuple[int, int]
    max_hw: tuple[int, int]

    @classmethod
    def fixed(cls, h: int, w: int) -> Profile:
        return cls((h, w), (h, w), (h, w))

    def contains(self, h: int, w: int) -> bool:
        return (self.min_hw[0] <= h <= self.max_hw[0]) and (self.min_hw[1] <= w <= self.max_hw[1])

    def label(self) -> str:
        sizes = [self.min_hw, self.opt_hw, self.max_hw]
        return ":".join(f"{w}x{h}" for h, w in sizes)

    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """(min, opt, max) NHWC input shapes for TensorRT."""
        return ((1, *self.min_hw, 3), (1, *self.opt_hw, 3), (MAX_BATCH, *self.max_hw, 3))


def input_shapes(dims: list[int], io: str, profile: Profile) -> tuple[tuple[int, ...], ...]:
    """(min, opt, max) shapes for a graph input of `dims` (-1 where dynamic): the
    profile's batch and frame sizes in the input's layout (NHWC frames, NCHW rgb255),
    with every dim the graph fixes kept as it is."""
    wanted = profile.shapes()
    if io == "rgb255":
        wanted = tuple((n, c, h, w) for n, h, w, c in wanted)
    return tuple(tuple(d if d > 0 else v for d, v in zip(dims, shape, strict=True))
                 for shape in wanted)


def parse_profile(text: str) -> Profile:
    """'MIN:OPT:MAX' sizes, e.g. 320x240:640x480:1280x720 (each side must not decrease)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise RtstyleError(f"--dynamic '{text}' needs three sizes MIN:OPT:MAX, "
                           "e.g. 320x240:640x480:1280x720")
    lo, opt, hi = (parse_size(p, "--dynamic").hw for p in parts)
    if not all(lo[i] <= opt[i] <= hi[i] for i in range(2)):
        raise RtstyleError(f"--dynamic '{text}': sizes must grow from MIN to OPT to MAX in "
                           "both width and height")
    return Profile(lo, opt, hi)


def require_tensorrt() -> Any:
    """The tensorrt module and a CUDA GPU, or one error saying what is missing."""
    try:
        import torch
    except ImportError:  # pragma: no cover (torch is a core dependency)
        torch = None
    if torch is None or not torch.cuda.is_available():
        raise RtstyleError("TensorRT needs an NVIDIA GPU with CUDA, and none is visible here; "
                           "the nearest thing that works on this machine is "
                           "`--format onnx` (fp32 or int8) run with --backend onnxruntime")
    try:
        import tensorrt as trt
    except ImportError as e:
        raise RtstyleError("the `tensorrt` package is not installed; run "
                           "`pip install 'rtstyle[gpu]'` (needs TensorRT 10), or use "
                           "--backend onnxruntime-cuda") from e
    if int(trt.__version__.split(".")[0]) < 10:
        raise RtstyleError(f"TensorRT {trt.__version__} is too old; rtstyle needs TensorRT 10+")
    return trt


def gpu_identity() -> dict[str, str]:
    """What a plan is tied to: GPU model, compute capability, TensorRT version."""
    import tensorrt as trt
    import torch

    major, minor = torch.cuda.get_device_capability()
    return {"gpu": torch.cuda.get_device_name(), "compute": f"{major}.{minor}",
            "tensorrt": trt.__version__}


def _logger(trt: Any) -> Any:
    return trt.Logger(trt.Logger.WARNING)


LAYOUT_OPS = {"Transpose", "Gather", "Identity"}


def casts_at_edges(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Move the uint8 <-> float Casts to the graph's input and output.

    rtstyle graphs transpose and reorder channels while still uint8 (cheaper on CPUs),
    but TensorRT only accepts uint8 at a network input or output, converted by the very
    first or last layer. Layout ops commute with a Cast, so the result is the same.
    """
    proto = copy.deepcopy(proto)
    g = proto.graph
    nodes = list(g.node)
    moved: set[str] = set()

    def users(name: str) -> list[onnx.NodeProto]:
        return [n for n in nodes if name in n.input]

    # input side: frames -> layout ops -> Cast(float)  ==>  frames -> Cast -> layout ops
    cur, chain = g.input[0].name, []
    while len(users(cur)) == 1 and users(cur)[0].op_type in LAYOUT_OPS:
        chain.append(users(cur)[0])
        cur = chain[-1].output[0]
    after = users(cur)
    if chain and len(after) == 1 and after[0].op_type == "Cast":
        cast = after[0]
        floated = f"{g.input[0].name}_as_float"
        chain[-1].output[0] = cast.output[0]
        cast.input[0], cast.output[0] = g.input[0].name, floated
        chain[0].input[0] = floated
        nodes.remove(cast)
        nodes.insert(nodes.index(chain[0]), cast)
        moved.update(n.output[0] for n in chain)
    # output side: Cast(uint8) -> layout ops -> styled  ==>  layout ops -> Cast -> styled
    producer = {o: n for n in nodes for o in n.output}
    cur, chain = g.output[0].name, []
    while cur in producer and producer[cur].op_type in LAYOUT_OPS:
        chain.append(producer[cur])
        cur = chain[-1].input[0]
    cast = producer.get(cur)
    if chain and cast is not None and cast.op_type == "Cast" and len(users(cur)) == 1:
        out, floated = g.output[0].name, f"{g.output[0].name}_as_float"
        chain[-1].input[0] = cast.input[0]
        chain[0].output[0] = floated
        cast.input[0], cast.output[0] = floated, out
        nodes.remove(cast)
        nodes.append(cast)
        moved.update(n.output[0] for n in chain)
    del g.node[:]
    g.node.extend(nodes)
    for vi in [v for v in g.value_info if v.name in moved]:  # their types changed
        g.value_info.remove(vi)
    return proto


Shapes = dict[str, tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]


def build_plan(onnx_bytes: bytes, profile: Profile, cache_dir: Path, io: str = "frames") -> bytes:
    """A transform net's plan: its one frame input set to `profile`."""

    def shapes(network: Any) -> Shapes:
        if network.num_inputs != 1:
            raise RtstyleError(f"the graph has {network.num_inputs} inputs; rtstyle engines "
                               "take one frame tensor")
        net_input = network.get_input(0)
        dims = list(net_input.shape)
        if all(d >= 0 for d in dims):  # a fully static graph needs (and takes) no profile
            return {}
        return {net_input.name: input_shapes(dims, io, profile)}

    return _build(onnx_bytes, cache_dir, profile.label(), shapes)


def build_graph_plan(onnx_bytes: bytes, shapes: Shapes, cache_dir: Path) -> bytes:
    """Any graph's plan (style-swap's), with (min, opt, max) shapes for each input."""
    return _build(onnx_bytes, cache_dir, ", ".join(
        f"{name} {'x'.join(map(str, opt))}" for name, (_, opt, _) in shapes.items()),
        lambda network: shapes)


def _build(onnx_bytes: bytes, cache_dir: Path, label: str,
           shapes: Callable[[Any], Shapes]) -> bytes:
    """Parse the ONNX into a strongly typed network and build a serialised plan."""
    trt = require_tensorrt()
    ident = gpu_identity()
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", f"{ident['gpu']}-trt{ident['tensorrt']}")
    timing_cache = cache_dir / f"timing-{slug}.cache"
    onnx_bytes = casts_at_edges(onnx.load_from_string(onnx_bytes)).SerializeToString()
    logger = _logger(trt)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        first = (errors or "no detail").splitlines()[0]
        raise RtstyleError(f"TensorRT cannot parse the ONNX graph ({first}); "
                           "run it with --backend onnxruntime-cuda instead")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE)
    config.clear_flag(trt.BuilderFlag.TF32)  # fp32 means fp32
    wanted = shapes(network)
    if wanted:
        profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in wanted.items():
            profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(profile)
    blob = timing_cache.read_bytes() if timing_cache.exists() else b""
    cache = config.create_timing_cache(blob)
    config.set_timing_cache(cache, True)  # ignore_mismatch: a stale cache is just ignored
    print(f"building a TensorRT engine for {label} (one-off, a minute or so)",
          file=sys.stderr)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RtstyleError("TensorRT could not build an engine for this graph and profile "
                           "(see the TensorRT log above); try a smaller --size or "
                           "--backend onnxruntime-cuda")
    timing_cache.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(timing_cache, bytes(cache.serialize()))
    return bytes(plan)


def deserialize(plan: bytes) -> tuple[Any, Any] | None:
    """(runtime, ICudaEngine), or None when the plan was built for another GPU or TensorRT
    version. The runtime must outlive the engine, so both are returned."""
    trt = require_tensorrt()
    runtime = trt.Runtime(_logger(trt))
    try:
        engine = runtime.deserialize_cuda_engine(plan)
    except Exception:  # some versions raise instead of returning None
        return None
    return (runtime, engine) if engine is not None else None


@dataclass
class EngineFile:
    """An rtstyle TensorRT engine file: header, the ONNX it came from, and the plan."""

    header: dict[str, Any]
    onnx_bytes: bytes
    plan: bytes

    @property
    def profile(self) -> Profile:
        return Profile(*(tuple(hw) for hw in self.header["profile"]))

    def write(self, path: Path) -> None:
        head = json.dumps(self.header).encode()
        with atomic_output(Path(path)) as tmp, open(tmp, "wb") as f:
            f.write(MAGIC)
            for part in (head, self.onnx_bytes, self.plan):
                f.write(struct.pack("<Q", len(part)))
                f.write(part)

    @classmethod
    def read(cls, path: Path) -> EngineFile:
        data = Path(path).read_bytes()
        if not data.startswith(MAGIC):
            raise RtstyleError(f"{path} is not an rtstyle TensorRT engine; make one with "
                               "`rtstyle export --format tensorrt`")
        parts, pos = [], len(MAGIC)
        try:
            for _ in range(3):
                (n,) = struct.unpack_from("<Q", data, pos)
                parts.append(data[pos + 8: pos + 8 + n])
                if len(parts[-1]) != n:
                    raise ValueError("truncated")
                pos += 8 + n
            header = json.loads(parts[0])
        except (struct.error, ValueError) as e:
            raise RtstyleError(f"{path} is truncated or corrupt; re-export it with "
                               "`rtstyle export --format tensorrt`") from e
        return cls(header, parts[1], parts[2])


def make_engine_file(onnx_bytes: bytes, meta: dict[str, Any], precision: str,
                     profile: Profile, cache_dir: Path) -> EngineFile:
    plan = build_plan(onnx_bytes, profile, cache_dir)
    header = {**gpu_identity(), "precision": precision, "style_meta": meta,
              "profile": [list(profile.min_hw), list(profile.opt_hw), list(profile.max_hw)]}
    return EngineFile(header, onnx_bytes, plan)


def plan_key(onnx_bytes: bytes, profile: Profile | Shapes) -> str:
    """Cache key: ONNX content, TensorRT version, GPU model and profile (or input shapes)."""
    shapes = asdict(profile) if isinstance(profile, Profile) else profile
    text = json.dumps([gpu_identity(), shapes], sort_keys=True)
    return hashlib.sha256(hashlib.sha256(onnx_bytes).digest() + text.encode()).hexdigest()[:24]


def load_plan(onnx_bytes: bytes, profile: Profile, cache_dir: Path,
              plan: bytes | None = None,
              built_for: dict[str, str] | None = None, io: str = "frames") -> tuple[Any, Any]:
    """(runtime, engine) for this profile: `plan` if it was built for this GPU and
    TensorRT version and still loads, else the cached rebuild, else a fresh build."""
    here = gpu_identity()
    same = built_for is not None and all(built_for.get(k) == v for k, v in here.items())
    if plan is not None and same:  # same GPU model and TensorRT version
        loaded = deserialize(plan)
        if loaded is not None:
            return loaded
    if plan is not None:
        was = built_for or {}
        print(f"engine was built for {was.get('gpu', '?')} / TensorRT {was.get('tensorrt', '?')}"
              f"; this is {here['gpu']} / TensorRT {here['tensorrt']}: rebuilding",
              file=sys.stderr)
    return cached_plan(onnx_bytes, profile, cache_dir,
                       lambda: build_plan(onnx_bytes, profile, cache_dir, io))


def cached_plan(onnx_bytes: bytes, profile: Profile | Shapes, cache_dir: Path,
                build: Callable[[], bytes]) -> tuple[Any, Any]:
    """(runtime, engine) from the plan cached for this graph, GPU and profile, else from
    `build()`, which is then cached."""
    cached = cache_dir / f"{plan_key(onnx_bytes, profile)}.plan"
    if cached.exists():
        loaded = deserialize(cached.read_bytes())
        if loaded is not None:
            return loaded
    fresh = build()
    cached.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(cached, fresh)
    loaded = deserialize(fresh)
    if loaded is None:
        raise RtstyleError("TensorRT built an engine it cannot load; check the driver and "
                           "TensorRT installation, or use --backend onnxruntime-cuda")
    return loaded
