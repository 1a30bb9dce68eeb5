"""Rebuild the shipped EdgeFace-XS ONNX file from the published weights, and check parity.

Dev-only: needs torch (CPU) and timm, which are not Facewatch's dependencies.

    pip install torch==2.13.0            # the CPU build on this disk (plain torch: CUDA, GBs)
    pip install --no-deps timm           # timm's torchvision is replaced by a stand-in here
    python scripts/convert_edgeface.py --weights ../shared/models/edgeface_xs_q.pt

Steps (as ../shared/models/README.md describes them):

1. ``timm.create_model("edgenext_x_small", num_classes=512)`` (otroshi/edgeface's
   TimmFRWrapperV2, whose state_dict keys start with ``model.``);
2. ``torch.ao.quantization.quantize_dynamic`` on its Linear layers, so that the published
   dynamic-int8 state_dict (``edgeface_xs_q``) loads; its weights, dequantized, are copied
   into the float model;
3. ``torch.onnx.export`` (opset 17, dynamic batch; ``input`` -> ``embedding``): the float
   file; then onnxruntime's ``quantize_dynamic`` (QInt8): the int8 file.

Then every face of face_recognition_examples is detected, aligned as Facewatch aligns it
(``EdgeFaceEmbedder.align``) and embedded one at a time by torch, the rebuilt files and the
shipped file; the largest absolute difference of the L2-normalised outputs is printed for
each pair. Test data: FACEWATCH_TESTDATA (default ../shared/testdata).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import tempfile
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
FLOAT_NAME = "edgeface_xs.onnx"
INT8_NAME = "edgeface_xs_int8.onnx"
OPSET = 17
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}

Vectors = npt.NDArray[np.float32]


# --- a stand-in for torchvision ----------------------------------------------------------
# timm imports a few torchvision names at import time (FrozenBatchNorm2d, transforms,
# datasets) that building and running edgenext never touches. PyPI's torchvision does not
# import beside the torch build on this disk, so each torchvision module is replaced by an
# empty one whose every attribute is an inert placeholder class.


class _Placeholder(type):
    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _placeholder(name)


def _placeholder(name: str) -> type:
    return _Placeholder(name, (), {})


class _StandInModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _placeholder(name)


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torchvision`` and every submodule of it as an empty stand-in."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "torchvision" or fullname.startswith("torchvision."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def import_timm() -> Any:
    """timm, with the torchvision stand-in in place unless a working torchvision is found."""
    try:
        importlib.import_module("torchvision")
    except Exception:  # any failure: missing, or the known operator-registration error
        for name in [n for n in sys.modules if n == "torchvision" or n.startswith("torchvision.")]:
            del sys.modules[name]
        sys.meta_path.insert(0, _StandInFinder())
    import timm

    return timm


# --- the conversion ----------------------------------------------------------------------


def float_model(weights: Path) -> Any:
    """edgenext_x_small with a 512-d head, holding the dequantized published weights."""
    import torch
    from torch import nn

    timm = import_timm()
    published = torch.load(weights, map_location="cpu", weights_only=False)
    state = _without_wrapper(published)
    model = timm.create_model("edgenext_x_small", num_classes=512, pretrained=False)
    quantization: Any = torch.ao.quantization  # untyped
    quantized = quantization.quantize_dynamic(
        timm.create_model("edgenext_x_small", num_classes=512, pretrained=False),
        {nn.Linear},
        dtype=torch.qint8,
    )
    quantized.load_state_dict(state)
    model.load_state_dict(_dequantized(quantized))
    return model.eval()


def _without_wrapper(published: Any) -> Any:
    """The state_dict with its ``model.`` prefix gone, keeping the version metadata that
    quantized modules read to unpack their weights."""
    from collections import OrderedDict

    state: Any = OrderedDict((k.removeprefix("model."), v) for k, v in published.items())
    metadata = getattr(published, "_metadata", None)
    if metadata is not None:
        state._metadata = OrderedDict(
            (k.removeprefix("model.").removeprefix("model"), v) for k, v in metadata.items()
        )
    return state


def _dequantized(quantized: Any) -> dict[str, Any]:
    """The float state_dict of a dynamically quantized model (Linear weights dequantized)."""
    import torch

    linear = torch.ao.nn.quantized.dynamic.Linear
    state: dict[str, Any] = {}
    packed: list[str] = []
    for name, module in quantized.named_modules():
        if isinstance(module, linear):
            unpacked: Any = module  # untyped
            state[f"{name}.weight"] = unpacked.weight().dequantize()
            state[f"{name}.bias"] = unpacked.bias()
            packed.append(f"{name}.")
    for key, value in quantized.state_dict().items():
        if not key.startswith(tuple(packed)):
            state[key] = value
    return state


def export_float(model: Any, path: Path) -> None:
    """``model`` as ONNX: input ``input`` N x 3 x 112 x 112, output ``embedding`` N x 512."""
    import torch

    example = torch.zeros(1, 3, 112, 112)
    torch.onnx.export(
        model,
        (example,),
        str(path),
        input_names=["input"],
        output_names=["embedding"],
        dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}},
        opset_version=OPSET,
        dynamo=False,
    )


def quantize_int8(source: Path, target: Path) -> None:
    """onnxruntime's dynamic quantization of the MatMul/Gemm weights to QInt8.

    The graph is first pre-processed (shape inference, constant folding) as onnxruntime
    recommends; without it the same 43 MatMuls are quantized but the file differs.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = target.with_suffix(".pre.onnx")
    quant_pre_process(str(source), str(prepared))
    quantize_dynamic(
        str(prepared),
        str(target),
        op_types_to_quantize=["MatMul", "Gemm"],
        weight_type=QuantType.QInt8,
    )
    prepared.unlink()


# --- parity on real faces ----------------------------------------------------------------


def aligned_faces(testdata: Path) -> list[Any]:
    """Every face HOG finds in face_recognition_examples, aligned as EdgeFace reads it."""
    from facewatch.vision.detectors import HogDetector
    from facewatch.vision.embedders import EdgeFaceEmbedder
    from facewatch.vision.image import load_image
    from facewatch.vision.landmarks import Landmarker

    hog, landmarker, embedder = HogDetector(), Landmarker(), EdgeFaceEmbedder()
    folder = testdata / "face_recognition_examples"
    chips = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        image = load_image(path, max_pixels=10_000_000)
        for found in hog.detect(image):
            chips.append(embedder.align(image, found.box, landmarker.locate(image, found.box)))
    return chips


def torch_vectors(model: Any, chips: Sequence[Any]) -> Vectors:
    import torch

    from facewatch.vision.embedders.edgeface import l2_normalised, to_input

    with torch.no_grad():
        rows = [model(torch.from_numpy(to_input([chip]))).numpy() for chip in chips]
    return l2_normalised(np.concatenate(rows).astype(np.float32))


def onnx_vectors(path: Path, chips: Sequence[Any]) -> Vectors:
    """One chip per run: a dynamic-int8 graph's output depends on the rest of its batch."""
    import onnxruntime as ort

    from facewatch.vision.embedders.edgeface import l2_normalised, to_input

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rows = [session.run(["embedding"], {"input": to_input([chip])})[0] for chip in chips]
    return l2_normalised(np.concatenate(rows).astype(np.float32))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    default_models = REPO.parent / "shared" / "models"
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--weights", type=Path, default=default_models / "edgeface_xs_q.pt")
    parser.add_argument(
        "--shipped",
        type=Path,
        default=REPO / "src" / "facewatch" / "vision" / "weights" / INT8_NAME,
        help="the int8 file the package ships (compared with the rebuilt one)",
    )
    parser.add_argument(
        "--reference-float",
        type=Path,
        default=default_models / FLOAT_NAME,
        help="a float file to compare with the rebuilt one (skipped if missing)",
    )
    parser.add_argument("--out", type=Path, help="folder for the rebuilt files (default: temp)")
    parser.add_argument(
        "--testdata", type=Path, default=Path(os.environ.get("FACEWATCH_TESTDATA", "") or "")
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    testdata = args.testdata if str(args.testdata) != "." else REPO.parent / "shared" / "testdata"
    out = args.out or Path(tempfile.mkdtemp(prefix="edgeface-"))
    out.mkdir(parents=True, exist_ok=True)
    import onnxruntime
    import torch

    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")
    model = float_model(args.weights)
    export_float(model, out / FLOAT_NAME)
    quantize_int8(out / FLOAT_NAME, out / INT8_NAME)
    print(f"rebuilt {out / FLOAT_NAME} ({sha256(out / FLOAT_NAME)[:16]}...)")
    print(f"rebuilt {out / INT8_NAME} ({sha256(out / INT8_NAME)[:16]}...)")
    print(f"shipped {args.shipped} ({sha256(args.shipped)[:16]}...)")

    chips = aligned_faces(testdata)
    vectors = {
        "torch float": torch_vectors(model, chips),
        "rebuilt float onnx": onnx_vectors(out / FLOAT_NAME, chips),
        "rebuilt int8 onnx": onnx_vectors(out / INT8_NAME, chips),
        "shipped int8 onnx": onnx_vectors(args.shipped, chips),
    }
    if args.reference_float.is_file():
        vectors["reference float onnx"] = onnx_vectors(args.reference_float, chips)
    pairs = [
        ("torch float", "rebuilt float onnx"),
        ("rebuilt int8 onnx", "shipped int8 onnx"),
        ("rebuilt float onnx", "shipped int8 onnx"),
        ("reference float onnx", "rebuilt float onnx"),
    ]
    print(f"{len(chips)} aligned faces of {testdata / 'face_recognition_examples'}:")
    worst = 0.0
    for first, second in pairs:
        if first in vectors and second in vectors:
            diff = float(np.abs(vectors[first] - vectors[second]).max())
            print(f"  max |{first} - {second}| = {diff:.2e}")
            if first.startswith("rebuilt int8"):
                worst = diff
    return 0 if worst < 1e-3 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "src"))
    sys.exit(main())
