"""What the recency prior costs and moves, by half-life, on PIAF with dates drawn at random.

Usage: python bench/recency.py [--dataset PIAF.json] [--half-lives 0,7,30,90,365] [--limit N]

PIAF's articles get publication days drawn uniformly over three years (seeded). Since those
days say nothing about which article answers, every change the prior makes to hit@1 is its
cost, and the share of questions whose first passage changes is how often it decides. Also
printed: the gap between the first and second passages' scores with the prior off, whose low
percentiles are the near-ties `RECENCY_WEIGHT` is sized to settle. One JSON object at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qabot.config import load_settings
from qabot.embedding.encoder import embedder_for
from qabot.engine import Qabot
from qabot.frontends.evaluate import load_squad, score_answer
from qabot.index.open import open_index
from qabot.index.write import build_index

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "piaf" / "piaf-dev.json"
TODAY = date(2025, 12, 31)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", type=Path, default=DEFAULT)
    ap.add_argument("--half-lives", default="0,7,30,90,365")
    ap.add_argument("--limit", type=int, default=None)
    args = ap.parse_args()
    data = load_squad(args.dataset)
    questions = data.questions[:args.limit] if args.limit else data.questions
    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        settings = load_settings(corpus_dir=root / "corpus", index_dir=root / "index",
                                 today=TODAY)
        settings.corpus_dir.mkdir()
        with open(settings.corpus_dir / "articles.jsonl", "w", encoding="utf-8") as fh:
            for i, (title, text) in enumerate(data.articles):
                day = TODAY - timedelta(days=rng.randrange(3 * 365))
                fh.write(json.dumps({"id": f"a{i}", "title": title, "text": text,
                                     "date": day.isoformat()}, ensure_ascii=False) + "\n")
        embedder = embedder_for(settings)
        build_index(settings, embedder=embedder)
        index = open_index(settings)
        firsts: dict[float, list[str]] = {}
        report: dict[str, object] = {"questions": len(questions), "half_lives": {}}
        gaps = []
        for half_life in [float(x) for x in args.half_lives.split(",")]:
            bot = Qabot(settings.model_copy(update={"recency_half_life_days": half_life}),
                        index, embedder)
            hits1 = hits5 = 0.0
            tops = []
            for q in questions:
                answer = bot.ask(q.question, k=5)
                scores = score_answer(answer, q.answers)
                hits1, hits5 = hits1 + scores["hit@1"], hits5 + scores["hit@5"]
                tops.append(f"{answer.passages[0].citation.doc_id}:{answer.passages[0].start}"
                            if answer.passages else "")
                if half_life == 0 and len(answer.passages) > 1:
                    gaps.append(answer.passages[0].score - answer.passages[1].score)
            firsts[half_life] = tops
            n = max(1, len(questions))
            base = firsts.get(0.0, tops)
            changed = sum(a != b for a, b in zip(base, tops, strict=True)) / n
            row = {"hit@1": round(hits1 / n, 4), "hit@5": round(hits5 / n, 4),
                   "first_changed": round(changed, 4)}
            report["half_lives"][str(half_life)] = row  # type: ignore[index]
            print(f"half-life {half_life:>5.0f} d: {row}", file=sys.stderr)
        if gaps:
            report["gap_percentiles"] = {str(p): round(float(np.percentile(gaps, p)), 4)
                                         for p in (5, 10, 25, 50)}
        print(json.dumps(report))


if __name__ == "__main__":
    main()
