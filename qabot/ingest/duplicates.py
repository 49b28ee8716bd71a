"""Near-duplicate articles: one story told by several outlets, or republished with edits.

Each article gets a MinHash signature of its word shingles (datasketch). The signature is cut
into bands whose keys the store indexes, so finding an article's look-alikes is a lookup of
its band keys, not a pass over the corpus. A candidate that shares a band is confirmed on the
shingles of both texts: the share of the smaller article's shingles the other holds. That
measure, unlike Jaccard, keeps a wire story and an outlet's shortened version together. The
check compares the shingles' 32-bit hashes (those MinHash takes), kept for the articles seen
recently: on an archive that tells each story many times, an article has dozens of candidates,
and cutting each one's text into shingles again made grouping most of a large build's time.
(Two of a pair's ~700 shingles share a hash about once in 10,000 pairs, moving its share by
1/700.)
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = ["BANDS", "Grouper", "Look", "band_keys", "overlap", "shingle_hashes",
           "shingles", "signature"]

#: Words per shingle: five words rarely repeat by chance across different stories on one
#: topic (they share names, not phrases), and survive an outlet's light edits in between.
SHINGLE_WORDS = 5
#: 64 bands of 2 rows: a pair whose shingle sets have Jaccard 0.25 (a brief cut from an
#: article four times its length) becomes a candidate with probability 0.98, 0.1 with 0.47,
#: 0.01 with 0.006; the exact check then drops the false ones.
BANDS, ROWS = 64, 2
_SEED = 7
#: MinHash's permutation scheme, named: datasketch 2 changed its default from "legacy", and
#: stored band keys must stay comparable with those of new articles.
_SCHEME = "affine32"
#: Shingle hashes kept for the articles last compared or placed (4 bytes each: 128 MB).
CACHED_HASHES = 32_000_000
_WORD = re.compile(r"\w+")


def shingles(text: str) -> frozenset[str]:
    """The article's runs of `SHINGLE_WORDS` words, case-folded."""
    words = _WORD.findall(text.casefold())
    if len(words) <= SHINGLE_WORDS:
        return frozenset([" ".join(words)]) if words else frozenset()
    # (zip of shifted lists: no slice per shingle.)
    return frozenset(map(" ".join, zip(*(words[i:] for i in range(SHINGLE_WORDS)))))


def shingle_hashes(grams: Iterable[str]) -> np.ndarray:
    """The shingles' 32-bit SHA-1 hashes (datasketch's `sha1_hash32`), sorted, distinct."""
    sha1 = hashlib.sha1
    values = np.fromiter((int.from_bytes(sha1(g.encode()).digest()[:4], "little")
                          for g in grams), dtype=np.uint32)
    return np.unique(values)


def signature(grams: Iterable[str] | np.ndarray) -> np.ndarray:
    """A MinHash signature of shingles (or of their `shingle_hashes`), `BANDS * ROWS`
    unsigned 64-bit values."""
    from datasketch import MinHash

    hashes = grams if isinstance(grams, np.ndarray) else shingle_hashes(grams)
    minhash = MinHash(num_perm=BANDS * ROWS, seed=_SEED, hashfunc=int,
                      permutations=_permutations(), scheme=_SCHEME)
    minhash.update_batch(hashes.tolist())
    return np.asarray(minhash.hashvalues, dtype="<u8")


@cache
def _permutations() -> np.ndarray:
    """MinHash's permutations, drawn once (drawing them took a quarter of a signature)."""
    from datasketch import MinHash

    return np.asarray(MinHash(num_perm=BANDS * ROWS, seed=_SEED, scheme=_SCHEME).permutations)


def band_keys(sig: np.ndarray) -> list[bytes]:
    """One key per band: the band's rows, as bytes."""
    rows = np.asarray(sig, dtype="<u8").reshape(BANDS, ROWS)
    return [row.tobytes() for row in rows]


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Share of the smaller set held by the other (0 when either is empty)."""
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return sum(1 for g in small if g in large) / len(small)


def _hash_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """`overlap` on `shingle_hashes`."""
    if not a.size or not b.size:
        return 0.0
    return np.intersect1d(a, b, assume_unique=True).size / min(a.size, b.size)


@dataclass(frozen=True, slots=True)
class Look:
    """What grouping decided for one article: its story, and the document it copies exactly
    (then it is not indexed again)."""

    story: str
    duplicate_of: str | None
    signature: np.ndarray


class Grouper:
    """Assigns stories to new articles, one at a time, against those already placed.

    `lookup(band, key)` lists ids of placed articles sharing a band; `text_of(id)` reads one;
    `exact(body_key)` finds a placed article with the same text. Articles should come oldest
    first, so that a story keeps the name its first article gave it."""

    def __init__(self, threshold: float, *, lookup: Callable[[int, bytes], Iterable[str]],
                 text_of: Callable[[str], str], exact: Callable[[str], str | None],
                 story_of: Callable[[str], str]) -> None:
        self.threshold = threshold
        self._lookup = lookup
        self._text_of = text_of
        self._exact = exact
        self._story_of = story_of
        self._pending: dict[tuple[int, bytes], list[str]] = {}
        self._merged: dict[str, str] = {}  # story -> the story it was folded into
        self._hashes: OrderedDict[str, np.ndarray] = OrderedDict()  # see CACHED_HASHES
        self._cached = 0

    def place(self, doc_id: str, text: str, body_key: str, new_story: str, *,
              may_copy: bool = True) -> Look:
        """The article's story: the one it repeats, else `new_story` (a name no story had
        before: an article edited into another story must not take its old one's name)."""
        hashes = shingle_hashes(shingles(text))
        sig = signature(hashes)
        keys = band_keys(sig)
        original = self._exact(body_key) if may_copy else None
        if original is not None:
            look = Look(self.story(self._story_of(original)), original, sig)
        else:
            look = Look(self._story_for(doc_id, hashes, keys) or new_story, None, sig)
        self._keep(doc_id, hashes)
        for band, key in enumerate(keys):
            self._pending.setdefault((band, key), []).append(doc_id)
        return look

    @property
    def merges(self) -> dict[str, str]:
        """Stories folded into another by this update (old name -> the name it took)."""
        return {old: self.story(old) for old in self._merged}

    def story(self, story: str) -> str:
        """A story's current name, after the merges this update made."""
        while story in self._merged:
            story = self._merged[story]
        return story

    def _hashes_of(self, doc_id: str) -> np.ndarray:
        found = self._hashes.get(doc_id)
        if found is None:
            found = shingle_hashes(shingles(self._text_of(doc_id)))
            self._keep(doc_id, found)
        else:
            self._hashes.move_to_end(doc_id)
        return found

    def _keep(self, doc_id: str, hashes: np.ndarray) -> None:
        # (An entry counts one more than its hashes: an article without words still costs.)
        old = self._hashes.pop(doc_id, None)
        self._cached += hashes.size + 1 - (old.size + 1 if old is not None else 0)
        self._hashes[doc_id] = hashes
        while self._cached > CACHED_HASHES and len(self._hashes) > 1:
            self._cached -= self._hashes.popitem(last=False)[1].size + 1

    def _story_for(self, doc_id: str, hashes: np.ndarray, keys: list[bytes]) -> str | None:
        candidates: dict[str, None] = {}
        for band, key in enumerate(keys):
            for other in (*self._lookup(band, key), *self._pending.get((band, key), ())):
                if other != doc_id:
                    candidates[other] = None
        matches = []
        for other in candidates:
            share = _hash_overlap(hashes, self._hashes_of(other))
            if share >= self.threshold:
                matches.append((share, other))
        if not matches:
            return None
        matches.sort(key=lambda m: (-m[0], m[1]))
        story = self.story(self._story_of(matches[0][1]))
        for _, other in matches[1:]:
            # This article bridges two stories: they are one.
            other_story = self.story(self._story_of(other))
            if other_story != story:
                self._merged[other_story] = story
        return story
