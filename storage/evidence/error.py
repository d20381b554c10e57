"""Evidence-package errors::

EvidenceError
├── PackageBuildError (OSError)         the package could not be written
└── PackageUnreadableError (ValueError) not a readable evidence package at all
"""

from __future__ import annotations


class EvidenceError(Exception):
    """Base of evidence-package failures."""


class PackageBuildError(EvidenceError, OSError):
    """The package could not be written."""


class PackageUnreadableError(EvidenceError, ValueError):
    """The file is not a readable evidence package (not a ZIP, or no manifest at all); ``package``: the
    file's name as given to the verifier (untrusted text: escape it before showing it)."""

    def __init__(self, message: str, *, package: str) -> None:
        super().__init__(message)
        self.package = package
