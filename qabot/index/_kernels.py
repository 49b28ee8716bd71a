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
                   scratch, touched):
    """One segment's chunks holding a question term, live and allowed (`live`, `allowed`:
    by row, or empty when all are), with their BM25 over the question's ideal (times
    `factor`, clipped to 1); 0-score chunks left out. `scratch` (float64, zeroed) and
    `touched` (int32) are at least the segment's size; `scratch` is left zeroed."""
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
    return rows[:k], values[:k]


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
