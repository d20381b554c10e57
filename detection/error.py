"""Detection errors. Each subclasses the matching built-in so callers can catch either::

DetectionError
├── ModelError (ValueError)            a file that is not a usable detector
│   └── ModelNotFoundError (FileNotFoundError)
├── BackendUnavailableError (RuntimeError)
└── FrameError (ValueError)            a frame the pipeline cannot take
"""

from __future__ import annotations


class DetectionError(Exception):
    """Base of every detection error."""


class ModelError(DetectionError, ValueError):
    """The model file exists but cannot be used: not a model, wrong shape, or classes we need are absent."""


class ModelNotFoundError(ModelError, FileNotFoundError):
    """The configured model path does not exist."""


class BackendUnavailableError(DetectionError, RuntimeError):
    """The inference runtime for a backend is not installed or cannot run the model."""


class FrameError(DetectionError, ValueError):
    """A frame the pipeline cannot take (empty, wrong number of channels)."""
