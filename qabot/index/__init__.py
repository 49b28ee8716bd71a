"""The index: a metadata store and two search indexes per generation, written by `write`,
opened by `open`, kept safe on disk by `generations`."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Self

__all__ = ["SearchIndex"]


class SearchIndex(Protocol):
    """What a generation needs of each of its search indexes (dense over sentences, BM25 over
    chunks): keys 0..len-1, which the metadata store maps back to text, and a file or folder
    of its own to be written into and read back from."""

    def __len__(self) -> int: ...

    def save(self, path: Path) -> None: ...

    @classmethod
    def load(cls, path: Path) -> Self: ...
