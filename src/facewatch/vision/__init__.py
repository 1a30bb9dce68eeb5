"""Face vision: decoding, detection, landmarks, alignment, quality and embeddings.

Pure functions and model wrappers only: no database, no network. Models load lazily on
first use, so building any of these objects is cheap.

    config.py        VisionConfig: what the factories read (the server's Settings has it)
    image.py         bytes -> RGB array (format whitelist, pixel cap), JPEG crops
    detectors/       FaceDetector + hog, haar, onnx_ultralight; create_detector(settings)
    landmarks.py     Landmarker: dlib 5-point landmarks
    align.py         align_face (dlib's 150 x 150 chip), TemplateAlignment (ARCFACE_112)
    augment.py       jittered copies of a face for enrolment templates
    embedders/       Embedder + edgeface, onnx_resnet, dlib_resnet; specs.py (ModelSpec
                     and calibrated defaults per model); create_embedder(settings)
    weights/         model files shipped in the package, with their licences and notices
    quality.py       assess_quality, enrolment_problem
    pipeline.py      FaceAnalyzer: all of the above for one image; create_analyzer(settings)
    models.py        where the model files are
"""

from facewatch.vision.image import crop_face, decode_image, encode_jpeg, image_format, load_image
from facewatch.vision.pipeline import FaceAnalyzer, create_analyzer

__all__ = [
    "FaceAnalyzer",
    "create_analyzer",
    "crop_face",
    "decode_image",
    "encode_jpeg",
    "image_format",
    "load_image",
]
