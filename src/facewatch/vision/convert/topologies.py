"""The C++ network types of dlib's published models, as layer lists from input to output.

dlib files do not hold their topology; these lists transcribe the ``using`` declarations of
the example programs that trained and load each model.
"""

from __future__ import annotations

from facewatch.vision.convert.dlib_dnn import Spec

RESNET_CHIP_SIZE = 150


def _block(filters: int, stride: int) -> list[Spec]:
    """``block<N,BN,stride>``: BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride>>>>>."""
    return [
        Spec("con", filters=filters, size=3, stride=stride),
        Spec("affine"),
        Spec("relu"),
        Spec("con", filters=filters, size=3, stride=1),
        Spec("affine"),
    ]


def _ares(filters: int) -> list[Spec]:
    """``ares<N>``: relu<add_prev1<block<N,affine,1,tag1<...>>>>."""
    return [Spec("tag", tag=1), *_block(filters, 1), Spec("add_prev", tag=1), Spec("relu")]


def _ares_down(filters: int) -> list[Spec]:
    """``ares_down<N>``: relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1>>>>>>."""
    return [
        Spec("tag", tag=1),
        *_block(filters, 2),
        Spec("tag", tag=2),
        Spec("skip", tag=1),
        Spec("avg_pool", size=2, stride=2),
        Spec("add_prev", tag=2),
        Spec("relu"),
    ]


def _level(filters: int, blocks: int, *, down: bool) -> list[Spec]:
    """One ``alevelN``: an optional downsampling residual block, then plain ones."""
    specs = _ares_down(filters) if down else []
    for _ in range(blocks):
        specs += _ares(filters)
    return specs


def face_recognition_resnet() -> list[Spec]:
    """``anet_type`` of dlib's examples/dnn_face_recognition_ex.cpp (the ResNet v1 model).

    loss_metric<fc_no_bias<128,avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<
    max_pool<3,3,2,2,relu<affine<con<32,7,7,2,2,input_rgb_image_sized<150>>>>>>>>>>>>>
    """
    return [
        Spec("input", size=RESNET_CHIP_SIZE),
        Spec("con", filters=32, size=7, stride=2),
        Spec("affine"),
        Spec("relu"),
        Spec("max_pool", size=3, stride=2),
        *_level(32, 3, down=False),  # alevel4
        *_level(64, 3, down=True),  # alevel3
        *_level(128, 2, down=True),  # alevel2
        *_level(256, 2, down=True),  # alevel1
        *_level(256, 0, down=True),  # alevel0
        Spec("avg_pool", size=0, stride=1),
        Spec("fc", filters=128, bias=False),
        Spec("loss_metric"),
    ]


MMOD_WINDOW_STRIDE = 8
"""How far apart (input pixels) neighbouring outputs of the MMOD network look: three 2x convs."""


def mmod_face_detector() -> list[Spec]:
    """``net_type`` of dlib's examples/dnn_mmod_face_detection_ex.cpp (mmod_human_face_detector).

    loss_mmod<con<1,9,9,1,1,rcon5<rcon5<rcon5<downsampler<input_rgb_image_pyramid<
    pyramid_down<6>>>>>>>>, downsampler = three relu<affine<con5d<16|32|32>>> (5x5, stride 2),
    rcon5 = relu<affine<con5<45>>> (5x5, stride 1).
    """
    specs = [Spec("input_pyramid")]
    for filters in (16, 32, 32):
        specs += [Spec("con", filters=filters, size=5, stride=2), Spec("affine"), Spec("relu")]
    for _ in range(3):
        specs += [Spec("con", filters=45, size=5, stride=1), Spec("affine"), Spec("relu")]
    return [*specs, Spec("con", filters=1, size=9, stride=1), Spec("loss_mmod")]
