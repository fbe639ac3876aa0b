"""Exceptions of the dataset layer."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset on disk is missing, incomplete, corrupt, foreign or does not match its manifest.

    The message names the offending file (or field) and says what was expected and found.
    ``path`` is that file or directory when known.
    """

    def __init__(self, message: str, path: object = None) -> None:
        super().__init__(message)
        self.path = path
