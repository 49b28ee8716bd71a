"""Dense index: sentence vectors, searched by FAISS over 8-bit codes, re-scored exactly.

Each segment keeps two copies of its vectors: 8-bit scalar-quantized codes in a FAISS index
(flat, or an inverted file when large), which stay in memory (384 bytes a vector with the default model,
against 1,536 in float32), and the float32 vectors in a `.npy` file that is never loaded: the
rows of the candidates a search re-scores are read with positioned reads. Scores that leave
this module are always exact cosines, so ranking and abstention read the same numbers as before
quantization.

Why reads, not a memory map: a mapped row faults in the pages around it too (the kernel maps up
to 64 KB per fault from its cache), so after 100 questions over 100k sentences the whole 150 MB
file was resident in the process (bench/scale.py). Read rows stay in the kernel's page cache,
shared and evictable, and the process holds only codes and graph. Keys are rows 0..n-1 of the segment; `DenseSet` numbers the rows of all the
segments of a generation one after the other.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qabot.errors import IndexCorruptError
from qabot.threads import LazyPool, Split

__all__ = ["CODES", "SEARCH_POOL", "VECTORS", "DenseIndex", "DenseSet"]

CODES, VECTORS = "dense.faiss", "vectors.npy"

# Below this many sentences a scan of every 8-bit code is fast and exact (2 ms for 20k codes
# on one core, 9 ms for 100k); above it, an inverted file (IVF) over the same codes.
APPROXIMATE_FROM = 20_000
# Why IVF and not HNSW, measured by bench/scale.py on synthetic sentences drawn around real e5
# vectors (recall@10 against an exact scan, candidates re-scored exactly): at 100k, HNSW
# (16 links, efSearch 512) 0.981 and IVF 1024 lists 0.99+; at 1M, HNSW 0.844, IVF 4096 lists
# 0.990 at 32 lists searched (1.2 ms) and 0.998 at 64 (2.0 ms). Sentences of one story sit in
# tight clumps that a graph walk leaves by few edges; the lists keep them together. IVF also
# costs less memory (8-byte ids, against 16 links of 4 bytes) and less time to build.
#: Lists searched: IVF_PROBE_SHARE of them, and at least IVF_PROBE_MIN (at 100k sentences and
#: 1,024 lists, 32 gave recall@10 0.966). At 1M sentences and 4,096 lists, 32 lists gave 0.992
#: and 64 0.998 (1.1 and 1.8 ms): a larger index needs a smaller share, and the share decides
#: the time (1/64 of 3M sentences is 47k codes scanned a question).
IVF_PROBE_MIN = 64
IVF_PROBE_SHARE = 1 / 128
#: The least lists searched in each of several IVF segments (an archive larger than a segment
#: is several: see `write.SEGMENT_SENTENCES`): a question pays for each. At 3M sentences in
#: three segments of 4,096 lists, recall@10 against an exact scan and the search's p50 (two
#: threads): 16 lists 0.983, 2.6 ms; 24 0.990, 2.6 ms; 32 0.991, 3.1 ms; 64 0.997, 4.8 ms.
IVF_PROBE_MIN_SHARED = 32
# k-means on this many vectors per list, for this many rounds: lists good enough to search
# (more made recall no better and training four times longer at 1M).
IVF_TRAIN_PER_LIST = 40  # (FAISS warns below 39)
IVF_TRAIN_ROUNDS = 10


def ivf_lists(n: int) -> int:
    """Lists for `n` vectors: about 4 sqrt(n), a power of two, each list of 39 or more
    (FAISS's floor for training)."""
    want = 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))
    most = 2 ** max(0, math.floor(math.log2(max(n // 39, 1))))
    return max(1, min(want, most))


def ivf_probes(lists: int, *, shared: bool = False) -> int:
    """Lists to search of an IVF segment's `lists`; `shared`: when it is one of several."""
    least = IVF_PROBE_MIN_SHARED if shared else IVF_PROBE_MIN
    return min(lists, max(least, int(lists * IVF_PROBE_SHARE)))


# Candidates taken from the codes beyond those wanted, then re-scored exactly: 8-bit codes
# misplace near ties (e5 puts most cosines between 0.75 and 0.92).
RESCORE_MIN = 40
#: Threads that search segments (and score BM25) beside the question's own: with it, this
#: machine's two cores.
SEARCH_THREADS = 1


class DenseIndex:
    """One segment's vectors: FAISS over 8-bit codes, and the exact vectors on disk."""

    def __init__(self, index: Any, vectors: np.ndarray | VectorFile) -> None:
        self._index = index
        self._vectors = vectors  # float32 rows, in memory or a `VectorFile`
        self._ivf = hasattr(index, "nprobe")
        # The lists' centroids again, in float16, to pick the lists to search: it reads half
        # the bytes (at 3M sentences in three segments, 4.3 ms -> 3.8 a question for the three
        # searches; 99.9 % of the candidates the same).
        self._coarse = _half_precision(index.quantizer, int(index.nlist)) if self._ivf else None
        # The last filter seen, counted and packed: the live rows of a segment with deletions
        # come back with every question.
        self._filter: tuple[np.ndarray, int, tuple[Any, np.ndarray]] | None = None

    @classmethod
    def build(cls, vectors: np.ndarray, *, threads: int = 1) -> DenseIndex:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        dim = vectors.shape[1]
        rng = np.random.default_rng(0)
        index: Any
        if len(vectors) >= APPROXIMATE_FROM:
            lists = ivf_lists(len(vectors))
            index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, lists,
                                                  faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT)
            index.cp.niter = IVF_TRAIN_ROUNDS
            index.cp.seed = 1234
            size = min(len(vectors), lists * IVF_TRAIN_PER_LIST)
        else:
            index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit,
                                               faiss.METRIC_INNER_PRODUCT)
            size = min(len(vectors), 200_000)  # each dimension's range: a sample is as good
        # Building is where both cores pay (k-means and list assignment run in parallel);
        # questions stay on one thread (see `_tune`).
        faiss.omp_set_num_threads(max(1, threads))
        try:
            sample = vectors if size == len(vectors) else vectors[
                np.sort(rng.choice(len(vectors), size, replace=False))]
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
            vectors = VectorFile(folder / VECTORS)
        except (RuntimeError, OSError, ValueError) as exc:
            raise IndexCorruptError(
                f"cannot read the dense index in {folder} ({str(exc).splitlines()[0][:120]}); "
                "run `qabot index --rebuild`"
            ) from None
        if len(vectors) != index.ntotal or vectors.dimension != index.d:
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

    @property
    def lists(self) -> int:
        """Its inverted lists (0: a flat index)."""
        return int(self._index.nlist) if self._ivf else 0

    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None,
               probes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, exact cosines) of the `n` nearest vectors, best first; only among the rows
        where `allowed` (a boolean per row) is true, when given. An IVF index searches
        `probes` of its lists (default: `ivf_probes`), more when few rows are allowed."""
        rows, _ = self.candidates(query, n, allowed, probes)
        return _best(rows, self.similarity(query, rows), n)

    def candidates(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None,
                   probes: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The rows whose exact cosines decide `search`'s answer: the best of the 8-bit codes,
        with a margin (or every allowed row, when few are), and their approximate cosines
        (infinite for rows not searched by code)."""
        import faiss

        _one_omp_thread()
        selector = None
        if allowed is None:
            count = len(self)
        elif (cached := self._filter) is not None and cached[0] is allowed:
            # (Read once: another thread may put its own filter there meanwhile.)
            count, selector = cached[1], cached[2][0]
        else:
            count = int(allowed.sum())
        n = min(n, count)
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        wide = min(count, n + max(RESCORE_MIN, n // 2))
        # (faiss's stubs lack the search parameters' keywords)
        params: Any
        if allowed is None:
            if self._ivf:
                approx, ids = self._search_lists(q, wide, probes or int(self._index.nprobe))
            else:
                approx, ids = self._index.search(q, wide)
        elif count <= APPROXIMATE_FROM and (self._ivf or count * 8 < len(self)):
            # Few allowed: the lists searched may hold few of them, and a scan of their exact
            # vectors is cheap and exact.
            rows = np.flatnonzero(allowed)
            return rows, np.full(len(rows), np.inf, dtype=np.float32)
        else:
            if selector is None:
                bitmap = np.packbits(allowed, bitorder="little")
                selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
                # (the selector points into the bitmap: kept together)
                self._filter = (allowed, count, (selector, bitmap))
            if self._ivf:
                # Search more lists as the allowed share shrinks, so that about as many
                # allowed vectors are met as an unfiltered search meets.
                lists = int(self._index.nlist)
                probes = min(lists, (probes or ivf_probes(lists)) * len(allowed)
                             // max(1, count))
                approx, ids = self._search_lists(q, wide, probes, selector)
            else:
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
                approx, ids = self._index.search(q, wide, params=params)
        found = ids[0] >= 0
        return ids[0][found], approx[0][found]

    def _search_lists(self, q: np.ndarray, wide: int, probes: int,
                      selector: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """An IVF search of `probes` lists, picked by the float16 centroids; the codes' scores
        build on the float32 centroids' (as a plain search's do)."""
        import faiss

        probes = min(probes, int(self._index.nlist))
        assert self._coarse is not None
        _, lists = self._coarse.search(q, probes)
        near = (self._index.quantizer.reconstruct_batch(lists[0]) @ q[0]).reshape(1, -1)
        near = np.ascontiguousarray(near, dtype=np.float32)
        params = faiss.SearchParametersIVF(nprobe=probes)  # type: ignore[call-arg]
        if selector is not None:
            params.sel = selector
        approx = np.empty((1, wide), dtype=np.float32)
        ids = np.empty((1, wide), dtype=np.int64)
        # (the wrapper of search_preassigned takes no parameters: the list count is its own)
        ptr = faiss.swig_ptr
        self._index.search_preassigned_c(1, ptr(q), wide, ptr(lists), ptr(near), ptr(approx),
                                         ptr(ids), False, params)
        return approx, ids

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The exact vectors of `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if isinstance(self._vectors, VectorFile):
            return self._vectors.rows(rows)
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
        self._live_masks: dict[int, np.ndarray | None] = {}  # by part, once per generation
        sizes = [len(p) for p in self.parts]
        self.starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        shared = sum(1 for p in self.parts if p.lists) > 1
        self._probes = [ivf_probes(p.lists, shared=shared) if p.lists else None
                        for p in self.parts]

    @property
    def dimension(self) -> int:
        return self.parts[0].dimension if self.parts else 0

    def __len__(self) -> int:
        return int(self.starts[-1])

    def search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None, *,
               side_by_side: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(ids, exact cosines) of the `n` nearest sentences of all segments, best first; the
        segments shared with the search thread unless `side_by_side` is false."""
        split = self.split(query, n, allowed)
        return SEARCH_POOL.run(split)[0] if side_by_side else split.run()

    def split(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None
              ) -> Split[tuple[np.ndarray, np.ndarray]]:
        """`search`, as a task a segment, for threads to share (FAISS leaves Python's lock):
        alone, the two cores search the segments side by side (at 3M sentences in three
        segments, 3.1 ms instead of 4.4); with BM25's segments (`LexicalSet.split`), both
        cores take the next segment of either search until none is left (at 3M, both
        searches and the fusion: 9.2 ms, against 13.4 on one core)."""
        unfiltered = allowed is None
        if self.live is not None:
            allowed = self.live if allowed is None else allowed & self.live
        masks: list[np.ndarray | None] = []
        for i, (start, end) in enumerate(zip(self.starts[:-1], self.starts[1:], strict=True)):
            if unfiltered:
                # Only the deleted are left out: the same for every question, so worked out once.
                if i not in self._live_masks:
                    mask = None if allowed is None else allowed[start:end]
                    self._live_masks[i] = None if mask is None or mask.all() else mask
                mask = self._live_masks[i]
            else:
                mask = None if allowed is None else allowed[start:end]
                if mask is not None and mask.all():
                    mask = None
            masks.append(mask)

        tasks = [functools.partial(self.parts[i].candidates, query, n, masks[i], self._probes[i])
                 for i in range(len(self.parts))]
        return Split(tasks, functools.partial(self._rescore, query, n))

    def _rescore(self, query: np.ndarray, n: int,
                 found: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """The best `n` of the segments' candidates, by exact cosine."""
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # The best candidates of all segments by their codes, as many as one segment would
        # re-score, then those re-scored exactly: reading vectors costs per row, and each
        # segment's own margin would multiply the reads by the segments.
        # Rows a segment scanned exactly (few allowed: their approximate score is infinite)
        # are all re-scored.
        approx = np.concatenate([f[1] for f in found])
        wide = n + max(RESCORE_MIN, n // 2)
        keep = ~np.isfinite(approx)
        coded = np.flatnonzero(~keep)
        if len(coded) > wide:
            coded = coded[np.argpartition(-approx[coded], wide - 1)[:wide]]
        keep[coded] = True
        ids, sims, at = [], [], 0
        for i, (rows, _) in enumerate(found):
            kept = rows[keep[at:at + len(rows)]]
            at += len(rows)
            ids.append(kept + self.starts[i])
            sims.append(self.parts[i].similarity(query, kept))
        return _best(np.concatenate(ids), np.concatenate(sims), n)

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


def _one_omp_thread() -> None:
    """OpenMP's thread count is each thread's own: a new thread (the search thread, the bot's
    workers) would search with as many as there are cores, each fighting the others and
    leaving a thread spinning on the second core after each search (see `_tune`). Once a
    thread."""
    if not getattr(_THREAD, "one_omp_thread", False):
        import faiss

        faiss.omp_set_num_threads(1)
        _THREAD.one_omp_thread = True


_THREAD = threading.local()


#: The thread that searches segments and scores BM25 beside a question's own.
SEARCH_POOL = LazyPool(SEARCH_THREADS, "qabot-search", initializer=_one_omp_thread)


def _half_precision(quantizer: Any, lists: int) -> Any:
    """A copy of an IVF index's centroids in float16, searched the same way."""
    import faiss

    centroids = quantizer.reconstruct_n(0, lists)
    coarse = faiss.IndexScalarQuantizer(centroids.shape[1], faiss.ScalarQuantizer.QT_fp16,
                                        faiss.METRIC_INNER_PRODUCT)
    coarse.train(centroids)
    coarse.add(centroids)
    return coarse


class VectorFile:
    """The rows of a 2-D float32 `.npy` file, read on demand (runs of consecutive rows in one
    read each); safe to share between threads."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read_header(fh)
            offset = fh.tell()
        if len(shape) != 2 or fortran or dtype != np.dtype("<f4"):
            raise ValueError(f"{path.name} is not a table of float32 vectors")
        self._shape = (int(shape[0]), int(shape[1]))
        expected = offset + self._shape[0] * self._shape[1] * 4
        if path.stat().st_size != expected:
            raise ValueError(f"{path.name} holds {path.stat().st_size} bytes, not {expected}")
        self._offset = offset
        self._file = open(path, "rb")  # noqa: SIM115 - held for the index's life
        self._row = self._shape[1] * 4

    def __len__(self) -> int:
        return self._shape[0]

    @property
    def dimension(self) -> int:
        return self._shape[1]

    def rows(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), self._shape[1]), dtype=np.float32)
        if not len(rows):
            return out
        order = np.argsort(rows, kind="stable")
        ranked = rows[order]
        if ranked[0] < 0 or ranked[-1] >= self._shape[0]:
            raise IndexError("vector row out of range")
        # Runs of consecutive rows (a chunk's sentences are), each one read, in place.
        starts = np.flatnonzero(np.diff(ranked) != 1) + 1
        bounds = zip([0, *starts.tolist()], [*starts.tolist(), len(ranked)], strict=True)
        fd, sorted_rows = self._file.fileno(), np.empty_like(out)
        view = memoryview(sorted_rows.data).cast("B")
        for a, b in bounds:
            got = os.preadv(fd, [view[a * self._row:b * self._row]],
                            self._offset + int(ranked[a]) * self._row)
            if got != (b - a) * self._row:
                raise OSError("the vector file was cut short")
        out[order] = sorted_rows
        return out

    def __del__(self) -> None:
        if hasattr(self, "_file"):
            self._file.close()


def _best(rows: np.ndarray, sims: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The `n` best by score, best first; ties by row, so results never depend on order."""
    order = np.lexsort((rows, -sims))[:n]
    return rows[order].astype(np.int64), sims[order].astype(np.float32)


def _tune(index: Any) -> None:
    import faiss

    # One question at a time: OpenMP's thread start-up costs more than it saves (6 ms vs 14 ms
    # for a flat scan of 100k vectors on 2 cores).
    faiss.omp_set_num_threads(1)
    if hasattr(index, "nprobe"):
        index.nprobe = ivf_probes(int(index.nlist))
