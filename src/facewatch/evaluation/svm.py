"""The older decision rule, for comparison: a linear SVM with probabilities over embeddings.

It is trained on the enrolment photos (one class per person; embeddings standardised, so
the default regularisation does not underfit dlib's small-valued descriptors) and names a
face as the most probable person when that probability is at least 0.8. It has no notion
of "nobody": whoever the face is, the probabilities of the enrolled people sum to one. With
many people the probabilities spread so thin that nobody reaches 0.8. Needs the ``eval``
extra (scikit-learn).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from facewatch.errors import InvalidInput

logger = logging.getLogger(__name__)

ACCEPT_PROBABILITY = 0.8
"""The older design's rule: name the person when the classifier is at least 80% sure."""
MIN_PHOTOS_PER_PERSON = 2


@dataclass(frozen=True, slots=True)
class SvmPrediction:
    """The most probable person for each face and that probability."""

    names: list[str]
    probabilities: npt.NDArray[np.float64]


class SvmBaseline:
    """``sklearn.svm.SVC(kernel="linear", probability=True)`` over the enrolment embeddings."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._model: Any = None

    def fit(self, embeddings: npt.NDArray[np.float32], names: Sequence[str]) -> SvmBaseline:
        """Train on enrolment embeddings; each person needs at least two photos."""
        try:
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
            from sklearn.svm import SVC
        except ImportError as exc:
            raise InvalidInput(
                "the SVM baseline needs scikit-learn: pip install 'facewatch[eval]'"
            ) from exc
        labels, counts = np.unique(np.asarray(names), return_counts=True)
        if labels.shape[0] < 2 or counts.min() < MIN_PHOTOS_PER_PERSON:
            raise InvalidInput(
                "the SVM baseline needs at least two people with at least "
                f"{MIN_PHOTOS_PER_PERSON} enrolled faces each"
            )
        with warnings.catch_warnings():
            # scikit-learn 1.9 deprecates probability=True; it is the older design's model.
            warnings.simplefilter("ignore", FutureWarning)
            svc = SVC(kernel="linear", probability=True, random_state=self._seed)
            self._model = make_pipeline(StandardScaler(), svc)
            self._model.fit(np.asarray(embeddings, dtype=np.float64), np.asarray(names))
        logger.info("SVM trained on %d faces of %d people", len(names), labels.shape[0])
        return self

    def predict(self, embeddings: npt.NDArray[np.float32]) -> SvmPrediction:
        """The most probable person of each face, with its probability."""
        if self._model is None:
            raise RuntimeError("fit the SVM before predicting")
        if embeddings.shape[0] == 0:
            return SvmPrediction([], np.empty(0))
        probabilities = self._model.predict_proba(np.asarray(embeddings, dtype=np.float64))
        best = np.argmax(probabilities, axis=1)
        classes = self._model.classes_
        return SvmPrediction(
            [str(classes[i]) for i in best],
            probabilities[np.arange(best.shape[0]), best].astype(np.float64),
        )
