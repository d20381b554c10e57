"""The errors of planning an export that answer the same way wherever they are raised (mapped once in
:data:`console.error.DOMAIN_ERRORS`; apart from :mod:`console.export`, which imports :mod:`console.error`)."""

from __future__ import annotations


class NothingToExportError(LookupError):
    """The complaint (``complaint_number``) has no attached footage."""

    def __init__(self, complaint_number: str) -> None:
        super().__init__(f"complaint {complaint_number} has no attached footage")
        self.complaint_number = complaint_number
