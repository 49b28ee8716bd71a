"""Dense index: FAISS inner-product search over normalized sentence vectors, keyed by sentence id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from qabot.errors import IndexCorruptError

__all__ = ["DenseIndex"]

# Exact search is fastest below this size; above it, a flat scan of every vector costs more
# than embedding the question, so HNSW takes over (recall > 0.99 at efSearch=128).
HNSW_FROM = 20_000
HNSW_M = 32
HNSW_EF_SEARCH = 128
HNSW_EF_MAX = 4096  # a filtered walk's widest


class DenseIndex:
    """An `IndexIDMap2` over a flat or HNSW index, written with FAISS's own writer."""

    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray) -> DenseIndex:
        import faiss

        dim = vectors.shape[1]
        base: Any
        if len(vectors) >= HNSW_FROM:
            base = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = 80
        else:
            base = faiss.IndexFlatIP(dim)
        index = faiss.IndexIDMap2(base)
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                           np.asarray(ids, dtype=np.int64))
        _tune(index)  # searched right away too (abstention's calibration), as it will be later
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        import faiss

        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorruptError(
                f"cannot read {path} ({str(exc).splitlines()[0][:120]}); "
                "run `qabot index --rebuild`"
            ) from None
        _tune(index)
        return cls(index)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine scores) of the `n` nearest vectors, best first; only among the ids
        where `allowed` (a boolean per id) is true, when given."""
        import faiss

        n = min(n, len(self) if allowed is None else int(allowed.sum()))
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = query.reshape(1, -1).astype(np.float32)
        if allowed is None:
            scores, ids = self._index.search(q, n)
        else:
            hnsw = self._hnsw
            count = int(allowed.sum())
            if hnsw and n <= HNSW_FROM and count <= HNSW_FROM:
                # A graph walk that may step on few allowed nodes misses some; a scan of this
                # many is cheap and exact.
                ids = np.flatnonzero(allowed)
                sims = self.similarity(query, ids)
                top = np.argsort(-sims, kind="stable")[:n]
                return ids[top], sims[top]
            bitmap = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
            # The walk visits nodes the filter rejects: widen it as the allowed share shrinks,
            # so that about as many allowed ones are met as an unfiltered search meets.
            ef = min(HNSW_EF_MAX, max(n, HNSW_EF_SEARCH * len(allowed) // max(1, count)))
            # (faiss's stubs lack the search parameters' keywords)
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=ef)  # type: ignore[attr-defined]
                      if hnsw else faiss.SearchParameters(sel=selector))  # type: ignore[call-arg]
            scores, ids = self._index.search(q, n, params=params)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]

    @property
    def _hnsw(self) -> bool:
        import faiss

        base = faiss.downcast_index(self._index.index) if hasattr(self._index, "index") else None
        return base is not None and hasattr(base, "hnsw")

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of `ids`, in that order."""
        if len(ids) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64)),
                          dtype=np.float32)

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Exact cosine of the query with the stored vectors of `ids`."""
        return (self.vectors(ids) @ query.astype(np.float32)).astype(np.float32)


def _tune(index: Any) -> None:
    import faiss

    # One question at a time: OpenMP's thread start-up costs more than it saves (6 ms vs 14 ms
    # for a flat scan of 100k vectors on 2 cores).
    faiss.omp_set_num_threads(1)
    base = faiss.downcast_index(index.index) if hasattr(index, "index") else index
    if hasattr(base, "hnsw"):
        base.hnsw.efSearch = HNSW_EF_SEARCH
