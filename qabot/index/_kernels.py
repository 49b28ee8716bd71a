"""BM25's loops over postings, compiled by numba (imported on the first question).

The same arithmetic as numpy's, in the same order, so that the scores are the same to the bit:
a posting weighs `idf * tf / (tf + norm)` in float32, and a chunk's sum adds its postings'
weights in float64, in the order of the question's terms (`np.bincount`'s order).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def segment_scores(indptr, chunks, tf, norm, term_ids, idfs, factor, live, allowed,
                   scratch, touched, n):
    """One segment's best `n` chunks holding a question term, live and allowed (`live`,
    `allowed`: by row, or empty when all are), with their BM25 over the question's ideal
    (times `factor`, clipped to 1), in no order: every chunk scoring at least the `n`-th
    best score, none scoring 0. `scratch` (float64, zeroed) and `touched` (int32) are at
    least the segment's size; `scratch` is left zeroed."""
    m = 0
    for j in range(term_ids.shape[0]):
        term = term_ids[j]
        if term < 0:
            continue
        idf = idfs[j]
        for p in range(indptr[term], indptr[term + 1]):
            row = chunks[p]
            count = np.float32(tf[p])
            weight = (idf * count) / (count + norm[row])
            if scratch[row] == 0.0:
                touched[m] = row
                m += 1
            scratch[row] += weight
    rows = np.empty(m, dtype=np.int32)
    values = np.empty(m, dtype=np.float32)
    k = 0
    one = np.float32(1.0)
    for i in range(m):
        row = touched[i]
        value = np.float32(scratch[row]) * factor
        scratch[row] = 0.0
        if (live.shape[0] and not live[row]) or (allowed.shape[0] and not allowed[row]):
            continue
        value = min(value, one)
        if value > 0:
            rows[k] = row
            values[k] = value
            k += 1
    if n <= 0:
        return rows[:0], values[:0]
    if k <= n:
        return rows[:k], values[:k]
    floor = _nth_largest(values[:k], n)
    kept = 0
    for i in range(k):
        if values[i] >= floor:
            rows[kept] = rows[i]
            values[kept] = values[i]
            kept += 1
    return rows[:kept], values[:kept]


@numba.njit(cache=True, nogil=True)
def _nth_largest(values, n):
    """The `n`-th largest of `values` (more than `n` of them): the least of a heap of the
    largest seen, which few values enter once it holds good ones."""
    heap = values[:n].copy()
    for start in range(n // 2 - 1, -1, -1):
        _sift_down(heap, start)
    for i in range(n, values.shape[0]):
        if values[i] > heap[0]:
            heap[0] = values[i]
            _sift_down(heap, 0)
    return heap[0]


@numba.njit(cache=True, nogil=True)
def _sift_down(heap, at):
    size = heap.shape[0]
    while True:
        least, left, right = at, 2 * at + 1, 2 * at + 2
        if left < size and heap[left] < heap[least]:
            least = left
        if right < size and heap[right] < heap[least]:
            least = right
        if least == at:
            return
        heap[at], heap[least] = heap[least], heap[at]
        at = least


@numba.njit(cache=True, nogil=True)
def chunk_sums(indptr, chunks, tf, norm, term_ids, idfs, rows):
    """The BM25 sums (float64, before the factor) of some rows of a segment, each found in
    the terms' postings (sorted by row) by bisection."""
    out = np.zeros(rows.shape[0], dtype=np.float64)
    for i in range(rows.shape[0]):
        row = rows[i]
        total = 0.0
        for j in range(term_ids.shape[0]):
            term = term_ids[j]
            if term < 0:
                continue
            lo, hi = indptr[term], indptr[term + 1]
            at = lo + np.searchsorted(chunks[lo:hi], row)
            if at < hi and chunks[at] == row:
                count = np.float32(tf[at])
                total += (idfs[j] * count) / (count + norm[row])
        out[i] = total
    return out
