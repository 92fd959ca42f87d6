"""Make rtstyle/builtin/vgg19_relu3_1.safetensors, the one third-party file rtstyle ships.

It is VGG19's conv1_1 -> relu3_1 (five convs, 0.56 M parameters): the style-swap encoder,
and the default loss network of `rtstyle train`. Source: a torchvision-layout state dict of
the Oxford VGG19 ImageNet weights (`vgg19().features[:18]`, e.g. the test assets'
vgg19_features_relu3_4.safetensors). Licence CC BY 4.0; the attribution, the source and
the change made (sliced to relu3_1, dtype) go into the file's metadata.

Run:   python benchmarks/make_vgg_slice.py SOURCE.safetensors [--dtype fp32|fp16]
       python benchmarks/make_vgg_slice.py SOURCE.safetensors --compare PHOTO...
`--compare` measures what fp16 storage would do to the style-swap output: PSNR (dB) of the
shipped decoder's frames with fp16-rounded encoder weights against fp32 ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from rtstyle.files import write_bytes_atomic
from rtstyle.nets.vgg import BUILTIN_WEIGHTS, LAYERS

LAST = LAYERS.index("relu3_1")  # features[:12]; convs at 0, 2, 5, 7, 10
METADATA = {
    "format": "rtstyle-vgg19-slice",
    "layout": f"torchvision.models.vgg19().features[:{LAST + 1}] (conv1_1 .. relu3_1)",
    "input": "RGB in [0,1], normalised with ImageNet mean (0.485,0.456,0.406) and std "
             "(0.229,0.224,0.225)",
    "title": "VGG19 (Very Deep Convolutional Networks for Large-Scale Image Recognition)",
    "attribution": "Karen Simonyan and Andrew Zisserman, Visual Geometry Group, University of "
                   "Oxford",
    "source": "https://www.robots.ox.ac.uk/~vgg/research/very_deep/ (ILSVRC-2014 VGG19 "
              "weights, via the Keras/TF.js conversion, first layer adapted to RGB input "
              "with torchvision's normalisation)",
    "licence": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
}


def make(source: Path, output: Path, dtype: str = "fp32") -> dict[str, str]:
    """Slice `source` to relu3_1 and write it with its metadata; returns the metadata."""
    state = load_file(str(source))
    keep = {k: v for k, v in state.items() if int(k.split(".")[0]) <= LAST}
    cast = torch.float16 if dtype == "fp16" else torch.float32
    tensors = {k: v.to(cast).contiguous() for k, v in sorted(keep.items())}
    meta = dict(METADATA, changes=f"sliced to relu3_1 (features[:{LAST + 1}], "
                f"{sum(v.numel() for v in tensors.values())} parameters) from "
                f"{source.name}; stored as {dtype}", dtype=dtype,
                source_sha256=hashlib.sha256(source.read_bytes()).hexdigest())
    # Plain keys for any safetensors reader; the same under "rtstyle" as JSON, whose format
    # tells the style catalogue (which scans builtin/) that this file is not a style.
    write_bytes_atomic(output, save(tensors, metadata={**meta, "rtstyle": json.dumps(meta)}))
    return meta


def compare(source: Path, photos: list[Path], painting: Path) -> list[float]:
    """PSNR of style-swap frames with fp16-stored encoder weights against fp32."""
    import cv2

    from rtstyle.engines.swap import load_painting
    from rtstyle.metrics import psnr
    from rtstyle.nets.frames import frames_to_rgb
    from rtstyle.nets.vgg import VGGFeatures
    from rtstyle.swap.decoder import load_decoder
    from rtstyle.swap.model import SwapModel
    from rtstyle.swap.op import colour_stats, index_style, style_patches

    decoder, _ = load_decoder()
    out = {}
    tmp = Path(tempfile.mkdtemp())
    for dtype in ("fp32", "fp16"):
        path = tmp / f"vgg-slice-{dtype}.safetensors"
        make(source, path, dtype)
        encoder = VGGFeatures(["relu3_1"], path)
        model = SwapModel(encoder, decoder).eval()
        art = torch.from_numpy(load_painting(painting, 256)[None])
        with torch.inference_mode():
            features = encoder(frames_to_rgb(art))["relu3_1"]
            style = (*index_style(style_patches(features)), *colour_stats(features))
            out[dtype] = [model(torch.from_numpy(_photo(cv2, p)[None]), *style).numpy()
                          for p in photos]
    return [round(psnr(a, b), 2) for a, b in zip(out["fp32"], out["fp16"], strict=True)]


def _photo(cv2, path: Path):
    img = cv2.imread(str(path))
    s = 320 / max(img.shape[:2])
    img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    return img[: img.shape[0] // 4 * 4, : img.shape[1] // 4 * 4].copy()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path)
    p.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32")
    p.add_argument("-o", "--output", type=Path, default=BUILTIN_WEIGHTS)
    p.add_argument("--compare", type=Path, nargs="*", metavar="PHOTO")
    p.add_argument("--painting", type=Path)
    args = p.parse_args()
    if args.compare:
        print(json.dumps({"psnr_fp16_vs_fp32_db": compare(args.source, args.compare,
                                                          args.painting)}))
        return
    print(json.dumps(make(args.source, args.output, args.dtype), indent=1))


if __name__ == "__main__":
    main()
