"""Dense index: sentence vectors, searched by FAISS over 8-bit codes, re-scored exactly.

Each segment keeps two copies of its vectors: 8-bit scalar-quantized codes in a FAISS index
(flat, or HNSW when large), which stay in memory (384 bytes a vector with the default model,
against 1,536 in float32), and the float32 vectors in a `.npy` file that is memory-mapped, not
read: only the rows of the candidates a search re-scores are touched. Scores that leave this
module are always exact cosines, so ranking and abstention read the same numbers as before
quantization. Keys are rows 0..n-1 of the segment; `DenseSet` numbers the rows of all the
segments of a generation one after the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qabot.errors import IndexCorruptError

__all__ = ["CODES", "VECTORS", "DenseIndex", "DenseSet"]

CODES, VECTORS = "dense.faiss", "vectors.npy"

# Below this many sentences a scan of every 8-bit code beats a graph walk and is exact (2 ms
# for 20k codes on one core, 9 ms for 100k, against 1 to 3 ms for HNSW at any size: see
# bench/scale.py); above it, HNSW.
HNSW_FROM = 20_000
# 16 links a node: 128 bytes a vector on the graph's bottom layer, where 32 cost 256 and
# gained nothing in recall@10 once candidates are re-scored (bench/scale.py).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 80
# The walk's breadth: recall@10 against an exact scan, on 100k synthetic sentences drawn around
# real e5 vectors (bench/scale.py), 0.953 at 128, 0.975 at 256, 0.991 at 512 (1.4 ms a
# question); a wider build (efConstruction 200) tripled build time for nothing at 512.
HNSW_EF_SEARCH = 512
HNSW_EF_MAX = 4096  # a filtered walk's widest
# Candidates taken from the codes beyond those wanted, then re-scored exactly: 8-bit codes
# misplace near ties (e5 puts most cosines between 0.75 and 0.92).
RESCORE_MIN = 40


class DenseIndex:
    """One segment's vectors: FAISS over 8-bit codes, and the exact vectors on disk."""

    def __init__(self, index: Any, vectors: np.ndarray) -> None:
        self._index = index
        self._vectors = vectors  # float32 rows; a memory map once saved and loaded
        self._hnsw = hasattr(index, "hnsw")

    @classmethod
    def build(cls, vectors: np.ndarray, *, threads: int = 1) -> DenseIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        quantizer = faiss.ScalarQuantizer.QT_8bit
        index: Any
        if len(vectors) >= HNSW_FROM:
            index = faiss.IndexHNSWSQ(dim, quantizer, HNSW_M,  # type: ignore[arg-type]
                                      faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            index = faiss.IndexScalarQuantizer(dim, quantizer, faiss.METRIC_INNER_PRODUCT)
        # Building is the one place where both cores pay (the graph's insertions run in
        # parallel); questions stay on one thread (see `_tune`).
        faiss.omp_set_num_threads(max(1, threads))
        try:
            # Each dimension's range is read from the vectors themselves: a sample is as good.
            sample = vectors if len(vectors) <= 200_000 else vectors[
                np.random.default_rng(0).choice(len(vectors), 200_000, replace=False)]
            index.train(sample)
            index.add(vectors)
        finally:
            faiss.omp_set_num_threads(1)
        _tune(index)
        return cls(index, vectors)

    @classmethod
    def empty(cls, dimension: int) -> DenseIndex:
        """A segment with no sentences (it holds only exact copies of other articles)."""
        import faiss

        index = faiss.IndexScalarQuantizer(dimension, faiss.ScalarQuantizer.QT_8bit,
                                           faiss.METRIC_INNER_PRODUCT)
        return cls(index, np.zeros((0, dimension), dtype=np.float32))

    @classmethod
    def load(cls, folder: Path) -> DenseIndex:
        import faiss

        try:
            index = faiss.read_index(str(folder / CODES))
            vectors = np.load(folder / VECTORS, mmap_mode="r", allow_pickle=False)
        except (RuntimeError, OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"cannot read the dense index in {folder} ({str(exc).splitlines()[0][:120]}); "
                "run `qabot index --rebuild`"
            ) from None
        if vectors.ndim != 2 or vectors.dtype != np.float32 or len(vectors) != index.ntotal \
                or vectors.shape[1] != index.d:
            raise IndexCorruptError(f"the vectors of {folder} do not match its dense index; "
                                    "run `qabot index --rebuild`")
        _tune(index)
        return cls(index, vectors)

    def save(self, folder: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(folder / CODES))
        np.save(folder / VECTORS, np.asarray(self._vectors), allow_pickle=False)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, exact cosines) of the `n` nearest vectors, best first; only among the rows
        where `allowed` (a boolean per row) is true, when given."""
        import faiss

        count = len(self) if allowed is None else int(allowed.sum())
        n = min(n, count)
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = query.reshape(1, -1).astype(np.float32)
        wide = min(count, n + max(RESCORE_MIN, n // 2))
        if allowed is None:
            _, ids = self._index.search(q, wide)
        elif count <= HNSW_FROM and (self._hnsw or count * 8 < len(self)):
            # Few allowed: a graph walk that steps on few of them misses some, and a scan of
            # their exact vectors is cheap and exact.
            rows = np.flatnonzero(allowed)
            return _best(rows, self.similarity(query, rows), n)
        else:
            bitmap = np.packbits(allowed, bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
            # The walk visits nodes the filter rejects: widen it as the allowed share shrinks,
            # so that about as many allowed ones are met as an unfiltered search meets.
            ef = min(HNSW_EF_MAX, max(wide, HNSW_EF_SEARCH * len(allowed) // max(1, count)))
            # (faiss's stubs lack the search parameters' keywords)
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=ef)  # type: ignore[attr-defined]
                      if self._hnsw else faiss.SearchParameters(sel=selector))  # type: ignore[call-arg]
            _, ids = self._index.search(q, wide, params=params)
        rows = ids[0][ids[0] >= 0]
        return _best(rows, self.similarity(query, rows), n)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The exact vectors of `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._vectors[rows], dtype=np.float32)

    def similarity(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact cosine of the query with the vectors of `rows`."""
        return (self.vectors(rows) @ query.astype(np.float32)).astype(np.float32)


class DenseSet:
    """The dense indexes of a generation's segments as one: row ids run through the first
    segment, then the next. Each segment is searched and the best of all are kept; `live` (by
    sentence, or None when all are) leaves deleted documents' sentences out of every search."""

    def __init__(self, parts: Sequence[DenseIndex], live: np.ndarray | None = None) -> None:
        self.parts = list(parts)
        self.live = live
        sizes = [len(p) for p in self.parts]
        self.starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)

    @property
    def dimension(self) -> int:
        return self.parts[0].dimension if self.parts else 0

    def __len__(self) -> int:
        return int(self.starts[-1])

    def search(self, query: np.ndarray, n: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, exact cosines) of the `n` nearest sentences of all segments, best first."""
        if self.live is not None:
            allowed = self.live if allowed is None else allowed & self.live
        found_ids, found_sims = [], []
        for part, start, end in zip(self.parts, self.starts[:-1], self.starts[1:], strict=True):
            mask = None if allowed is None else allowed[start:end]
            if mask is not None and mask.all():
                mask = None
            ids, sims = part.search(query, n, mask)
            found_ids.append(ids + start)
            found_sims.append(sims)
        if not found_ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return _best(np.concatenate(found_ids), np.concatenate(found_sims), n)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        part = np.searchsorted(self.starts, ids, side="right") - 1
        for p in np.unique(part).tolist():
            at = part == p
            out[at] = self.parts[p].vectors(ids[at] - self.starts[p])
        return out

    def similarity(self, query: np.ndarray, ids: np.ndarray) -> np.ndarray:
        return (self.vectors(ids) @ query.astype(np.float32)).astype(np.float32)


def _best(rows: np.ndarray, sims: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The `n` best by score, best first; ties by row, so results never depend on order."""
    order = np.lexsort((rows, -sims))[:n]
    return rows[order].astype(np.int64), sims[order].astype(np.float32)


def _tune(index: Any) -> None:
    import faiss

    # One question at a time: OpenMP's thread start-up costs more than it saves (6 ms vs 14 ms
    # for a flat scan of 100k vectors on 2 cores).
    faiss.omp_set_num_threads(1)
    if hasattr(index, "hnsw"):
        index.hnsw.efSearch = HNSW_EF_SEARCH
