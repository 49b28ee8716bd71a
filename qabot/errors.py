"""Domain exceptions whose messages tell the user what to do next."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorpusError",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexMismatchError",
    "ModelLoadError",
    "NoIndexError",
    "QabotError",
]


class QabotError(Exception):
    """Base class: the message is a complete sentence meant for the user."""

    exit_code = 1


class ConfigError(QabotError):
    """A setting is invalid."""

    exit_code = 2


class NoIndexError(QabotError):
    """No index has been built yet."""


class QuestionError(QabotError):
    """The question or its filters ask for something impossible (since after until); the
    message, safe to show any user, says how to ask."""


class IndexMismatchError(QabotError):
    """The index on disk was built with another model, dimension or format."""


class IndexCorruptError(QabotError):
    """An index file is missing or unreadable."""


class IndexBusyError(QabotError):
    """Another process is writing the index."""


class ModelLoadError(QabotError):
    """The embedding model could not be loaded."""


class CorpusError(QabotError):
    """The corpus directory is missing or holds nothing to index."""
