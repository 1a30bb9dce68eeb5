"""Facewatch: self-hosted open-set face recognition for video surveillance."""

__version__ = "0.1.0"
