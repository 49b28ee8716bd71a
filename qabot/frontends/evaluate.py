"""Evaluation: does the quote shown contain the answer? Measured on a SQuAD v1 file, through the
very path users get (loading, chunking, embedding, `Qabot.ask`), in a throwaway index."""

from __future__ import annotations

import json
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qabot.config import Settings
from qabot.embedding.encoder import Embedder, embedder_for
from qabot.engine import Qabot
from qabot.errors import QabotError
from qabot.index.open import open_index
from qabot.index.write import build_index
from qabot.records import Answer, Passage
from qabot.search.quotes import worth_showing
from qabot.search.retrieve import Mode

__all__ = ["Dataset", "EvalQuestion", "evaluate", "load_squad", "score_answer"]

METRICS = ("hit@1", "hit@3", "hit@5", "highlight@1", "mrr@5", "answered")


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dataset:
    articles: list[tuple[str, str]]  # (title, text)
    questions: list[EvalQuestion]


def load_squad(path: Path) -> Dataset:
    """Articles (title, then paragraphs separated by blank lines) and questions of a SQuAD v1 file."""
    where = str(path)
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise QabotError(f"{where}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QabotError(f"{where} is not a JSON file ({exc}); give a SQuAD v1 .json file") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), list):
        raise QabotError(f'{where} is not in SQuAD v1 form: expected {{"data": [{{"title", '
                         '"paragraphs": [{"context", "qas": [...]}]}]}')
    articles: list[tuple[str, str]] = []
    questions: list[EvalQuestion] = []
    try:
        for art in raw["data"]:
            paragraphs = art["paragraphs"]
            text = "\n\n".join(str(p["context"]).strip() for p in paragraphs)
            if text.strip():
                articles.append((str(art.get("title") or f"Article {len(articles) + 1}"), text))
            for p in paragraphs:
                for qa in p.get("qas", []):
                    golds = tuple(str(a["text"]) for a in qa.get("answers", [])
                                  if str(a.get("text") or "").strip())
                    if str(qa.get("question", "")).strip() and golds:
                        questions.append(EvalQuestion(str(qa["question"]), golds))
    except (KeyError, TypeError, AttributeError):
        raise QabotError(f"{where} is not in SQuAD v1 form: every article needs "
                         '"paragraphs", every paragraph a "context"') from None
    if not questions:
        raise QabotError(f"{where} holds no question with an answer to evaluate")
    return Dataset(articles, questions)


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def score_answer(answer: Answer, golds: Sequence[str]) -> dict[str, float]:
    """One question's metrics: the rank of the first quote holding a gold answer, and more."""
    wanted = _wanted(golds)
    rank = next((i for i, p in enumerate(answer.passages, start=1)
                 if _holds(p, wanted)), None)
    first = answer.passages[0] if answer.passages else None
    return {
        "hit@1": float(rank is not None and rank <= 1),
        "hit@3": float(rank is not None and rank <= 3),
        "hit@5": float(rank is not None and rank <= 5),
        "highlight@1": float(first is not None
                             and any(g in _norm(first.highlight) for g in wanted)),
        "mrr@5": 1.0 / rank if rank is not None and rank <= 5 else 0.0,
        "answered": float(answer.answered),
    }


def _wanted(golds: Sequence[str]) -> list[str]:
    """Gold answers as matched; a blank one would be found in every quote."""
    return [g for g in map(_norm, golds) if g]


def _holds(passage: Passage, wanted: list[str]) -> bool:
    return any(g in _norm(passage.quote) for g in wanted)


def score_shown(answer: Answer, golds: Sequence[str], top_k: int,
                ratio: float) -> tuple[int, int]:
    """(passages the default view shows, how many of them hold a gold answer), from an answer
    to an explicit k >= top_k: the default view is its first top_k passages, less those below
    `ratio` of the best (see `Qabot.ask`)."""
    shown = worth_showing(answer.passages[:top_k], ratio)
    wanted = _wanted(golds)
    return len(shown), sum(_holds(p, wanted) for p in shown)


def evaluate(settings: Settings, dataset: Dataset, *, modes: Sequence[Mode] = ("hybrid",),
             k: int = 5, limit: int | None = None, embedder: Embedder | None = None,
             on_progress: Callable[[int], None] | None = None,
             recency_half_life_days: float = 0.0) -> dict[str, Any]:
    """Index the dataset's articles into a temporary index and ask every question in each mode.
    The recency prior is off unless `recency_half_life_days` is given: reading-comprehension
    sets say nothing about which article is newer."""
    questions = dataset.questions[:limit] if limit else dataset.questions
    embedder = embedder or embedder_for(settings)
    with tempfile.TemporaryDirectory(prefix="qabot-eval-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        with open(corpus / "articles.jsonl", "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps({"id": f"a{i}", "title": title, "text": text},
                                    ensure_ascii=False) + "\n" for i, (title, text) in enumerate(dataset.articles))
        local = settings.model_copy(update={"corpus_dir": corpus, "index_dir": Path(tmp) / "i",
                                            "recency_half_life_days": recency_half_life_days})
        started = time.perf_counter()
        summary = build_index(local, embedder=embedder)
        index_seconds = time.perf_counter() - started
        bot = Qabot(local, open_index(local), embedder)
        bot.warm_up()
        report: dict[str, Any] = {
            "questions": len(questions), "documents": summary.documents,
            "chunks": summary.chunks, "model": settings.embedding_model,
            "index_seconds": round(index_seconds, 2), "k": k,
            "settings": {name: getattr(settings, name) for name in (
                "dense_weight", "lexical_weight", "quote_weight", "min_relevance", "show_ratio",
                "top_k", "chunk_words", "chunk_overlap", "max_quote_chars", "prompts",
                "cosine_scale")} | {"recency_half_life_days": recency_half_life_days},
            "modes": {},
        }
        for mode in modes:
            totals = dict.fromkeys(METRICS, 0.0)
            shown = with_answer = 0
            latencies = []
            for q in questions:
                t = time.perf_counter()
                answer = bot.ask(q.question, k=k, mode=mode)
                latencies.append(time.perf_counter() - t)
                for name, value in score_answer(answer, q.answers).items():
                    totals[name] += value
                if answer.answered:
                    n, good = score_shown(answer, q.answers, settings.top_k, settings.show_ratio)
                    shown, with_answer = shown + n, with_answer + good
                if on_progress:
                    on_progress(1)
            n = max(1, len(questions))
            result = {name: round(total / n, 4) for name, total in totals.items()}
            result["shown"] = round(shown / max(1, totals["answered"]), 3)
            result["shown_with_answer"] = round(with_answer / max(1, shown), 4)
            result["latency_ms_p50"] = round(float(np.percentile(latencies, 50)) * 1000, 2)
            result["latency_ms_p95"] = round(float(np.percentile(latencies, 95)) * 1000, 2)
            report["modes"][mode] = result
    return report
