"""The person mask: the selfie model on OpenVINO, resized to the frame and feathered.

OpenVINO reads the .tflite directly. MediaPipe built the model with one custom op,
Convolution2DTransposeBias (a 2x2, stride-2 transposed convolution plus a bias), which no
stock TFLite runtime knows; `_transpose_conv_bias` tells OpenVINO's converter what it is.
"""

from __future__ import annotations

import cv2
import numpy as np

from rtstyle.errors import RtstyleError

SIDE = 256  # the model's square RGB input, values in 0..1
FEATHER = 0.01  # edge softening: Gaussian sigma as a share of the frame's longer side
INSTALL = 'pip install "rtstyle[region]"'


def _transpose_conv_bias(ctx):  # noqa: ANN001, ANN202 (OpenVINO's NodeContext and Outputs)
    from openvino import opset8 as ops

    x, w, b = ctx.get_input(0), ctx.get_input(1), ctx.get_input(2)

    def perm(order: list[int]):  # noqa: ANN202
        return ops.constant(np.array(order, np.int64))

    # TFLite: NHWC activations, [out, kh, kw, in] weights; OpenVINO: NCHW, [in, out, kh, kw].
    y = ops.convolution_backprop_data(
        ops.transpose(x, perm([0, 3, 1, 2])), ops.transpose(w, perm([3, 0, 1, 2])),
        strides=[2, 2], pads_begin=[0, 0], pads_end=[0, 0], dilations=[1, 1],
        auto_pad="same_upper")
    y = ops.add(y, ops.reshape(b, perm([1, -1, 1, 1]), False))
    return [ops.transpose(y, perm([0, 2, 3, 1])).output(0)]


def _compile(threads: int | None):  # noqa: ANN202 (an OpenVINO CompiledModel)
    try:
        import openvino as ov
        from openvino.frontend import ConversionExtension
    except ImportError as e:
        raise RtstyleError(f"--region needs OpenVINO for the person mask; {INSTALL}") from e
    from rtstyle.region.model import fetch

    core = ov.Core()
    core.add_extension(ConversionExtension("Convolution2DTransposeBias", _transpose_conv_bias))
    config = {"INFERENCE_NUM_THREADS": threads} if threads else {}
    try:
        return core.compile_model(core.read_model(str(fetch())), "CPU", config)
    except RuntimeError as e:
        raise RtstyleError(f"OpenVINO could not load the person mask model ({e!s:.80}); "
                           f"reinstall with {INSTALL}") from e


class Segmenter:
    """Person probability per pixel for uint8 BGR frames, 1 on the person."""

    def __init__(self, threads: int | None = None, compiled: object = None):
        self._compiled = compiled if compiled is not None else _compile(threads)
        self._request = self._compiled.create_infer_request()  # one per thread of use

    def fork(self) -> Segmenter:
        """The same loaded model with a request of its own, for an engine on another thread."""
        return Segmenter(compiled=self._compiled)

    def mask(self, frame: np.ndarray) -> np.ndarray:
        """float32 (H, W) in 0..1, feathered so the stylised part fades into the rest.
        The feather blur runs at the model's 256 px and the resize up smooths it further:
        a blur at 640x480 would cost as much as the model itself."""
        h, w = frame.shape[:2]
        small = cv2.resize(frame, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
        x = small[None, :, :, ::-1].astype(np.float32) * (1.0 / 255.0)  # BGR -> RGB, 0..1
        out = self._request.infer(x)[0][0, :, :, 0]
        sigma = FEATHER * max(h, w) * SIDE  # the frame's sigma, in model pixels per axis
        out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma / w, sigmaY=sigma / h)
        return np.clip(cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
