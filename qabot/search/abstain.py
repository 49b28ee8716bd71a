"""Abstention: whether the corpus answers a question at all.

A cosine means little on its own: e5 puts an unrelated question at 0.8 from some sentence of a
large corpus, and a real question in another language may score no higher against a small
one. So the best cosine is read against two references, both made from fixed texts
(`data/calibration.txt`) with the index's own model:

- the question's own baseline: how close it gets to anchor sentences on no topic in
  particular (some questions are close to everything);
- the corpus's null gap: how far, beyond their own baselines, questions the corpus is not about
  (probes) get in this very index. It grows with the corpus, and is measured at each update.

What is left, on the model's cosine scale, plus the lexical evidence (BM25 of the best chunk,
share of the question the best quote holds), is the relevance; below `min_relevance`, qabot
says the corpus has no answer. On PIAF dev this answers 0.98 of the questions and refuses 0.87
of the off-topic questions of the tests there, 0.97 on the shipped article (a cut on the fused
score refused 0.34 and 1.0).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from qabot.embedding.encoder import Embedder
from qabot.index.dense import DenseSet

__all__ = ["Judge", "Reference", "embed_reference", "null_gap", "reference_key",
           "reference_texts"]

#: Anchors whose cosines make a question's baseline: the closest few, as one close anchor may
#: share a topic with the question by chance.
BASELINE_TOP = 5
#: Weights of the lexical evidence, and the offset that puts the default cut at 0 (fitted on
#: PIAF dev questions against the off-topic questions of the tests).
LEXICAL_WEIGHT = 0.12
COVERAGE_WEIGHT = 0.24
OFFSET = 0.15


@cache
def reference_texts() -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(anchors, probes, their checksum) from the packaged calibration file."""
    raw = resources.files("qabot").joinpath("data/calibration.txt").read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in raw.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
        elif current is not None:
            current.append(line)
    anchors, probes = tuple(sections["anchors"]), tuple(sections["probes"])
    return anchors, probes, hashlib.sha256(raw.encode()).hexdigest()


def reference_key(query_prompt: str, passage_prompt: str) -> str:
    """Names the embedded calibration: the texts and the prompts they were embedded with (the
    model is the index's own)."""
    seed = "\0".join((reference_texts()[2], query_prompt, passage_prompt))
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Reference:
    """The calibration texts embedded with the index's model: anchors as passages, probes as
    questions; `texts_id` is their `reference_key`."""

    anchors: np.ndarray
    probes: np.ndarray
    texts_id: str

    @property
    def dimension(self) -> int:
        return int(self.anchors.shape[1])

    def stacked(self) -> np.ndarray:
        return np.vstack([self.anchors, self.probes]).astype(np.float32)

    @classmethod
    def unstack(cls, vectors: np.ndarray, anchors: int, texts_id: str) -> Reference:
        return cls(vectors[:anchors], vectors[anchors:], texts_id)

    def baseline(self, vectors: np.ndarray) -> np.ndarray:
        """Each question's mean cosine with its closest anchors."""
        sims = np.atleast_2d(vectors) @ self.anchors.T
        top = min(BASELINE_TOP, sims.shape[1])
        return np.asarray(-np.sort(-sims, axis=1)[:, :top].mean(axis=1), dtype=np.float32)


def embed_reference(embedder: Embedder) -> Reference:
    anchors, probes, _ = reference_texts()
    return Reference(embedder.encode_passages(list(anchors)), embedder.encode_queries(list(probes)),
                     reference_key(embedder.query_prompt, embedder.passage_prompt))


def null_gap(reference: Reference, dense: DenseSet) -> float:
    """The median of (best cosine in the corpus - own baseline) over the probes."""
    best = np.array([found[0] if len(found := dense.search(p, 1)[1]) else 0.0
                     for p in reference.probes], dtype=np.float32)
    return float(np.median(best - reference.baseline(reference.probes)))


@dataclass(frozen=True)
class Judge:
    """Decides, from the best passage's signals, whether the corpus answers the question."""

    reference: Reference
    null_gap: float
    cosine_scale: tuple[float, float]
    min_relevance: float = 0.0

    def relevance(self, vector: np.ndarray, best_cosine: float, lexical: float,
                  coverage: float) -> float:
        """How far the question's best match stands above what an unanswerable question gets,
        in units of the model's cosine scale, plus its lexical evidence; 0 is the default cut."""
        low, high = self.cosine_scale
        gap = best_cosine - float(self.reference.baseline(vector)[0]) - self.null_gap
        return gap / (high - low) + LEXICAL_WEIGHT * lexical + COVERAGE_WEIGHT * coverage - OFFSET

    def answers(self, vector: np.ndarray, best_cosine: float, lexical: float,
                coverage: float) -> bool:
        return self.relevance(vector, best_cosine, lexical, coverage) >= self.min_relevance
