"""Retrieval quality per fusion mode on a SQuAD-format file (default: PIAF dev), as JSON.

Usage: python bench/piaf_fusion.py [DATASET.json] [--limit N] [--modes hybrid,lexical,dense,rrf]

Each article becomes one document (title, then its paragraphs separated by blank lines),
indexed through the normal qabot path into a temporary folder. A question is a hit@k when a
gold answer appears inside one of the first k quotes shown to the user.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from qabot.config import load_settings
from qabot.engine import Qabot
from qabot.index.write import build_index

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "piaf" / "piaf-dev.json"


def norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", nargs="?", default=str(DEFAULT))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--modes", default="hybrid,lexical,dense,rrf")
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--work-dir", help="keep the corpus and index here (reused when up to date)")
    args = ap.parse_args()
    data = json.loads(Path(args.dataset).read_text(encoding="utf-8"))["data"]
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.work_dir or scratch
        corpus = Path(tmp) / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        questions = []
        with open(corpus / "articles.jsonl", "w", encoding="utf-8") as fh:
            for i, art in enumerate(data):
                text = "\n\n".join(p["context"] for p in art["paragraphs"])
                fh.write(json.dumps({"id": f"a{i}", "title": art["title"], "text": text,
                                     "lang": "fr"}, ensure_ascii=False) + "\n")
                for p in art["paragraphs"]:
                    for qa in p["qas"]:
                        questions.append((qa["question"], [a["text"] for a in qa["answers"]]))
        if args.limit:
            questions = questions[: args.limit]
        settings = load_settings(corpus_dir=corpus, index_dir=Path(tmp) / "index")
        t = time.perf_counter()
        summary = build_index(settings)
        index_s = time.perf_counter() - t
        bot = Qabot.open(settings)
        report: dict[str, object] = {"questions": len(questions), "chunks": summary.chunks,
                                     "index_seconds": round(index_s, 1)}
        for mode in args.modes.split(","):
            hits = [0] * args.k
            hl = answered = 0
            for q, golds in questions:
                ans = bot.ask(q, k=args.k, mode=mode)  # type: ignore[arg-type]
                answered += ans.answered
                g = [norm(x) for x in golds]
                for rank, p in enumerate(ans.passages):
                    if any(x in norm(p.quote) for x in g):
                        for j in range(rank, args.k):
                            hits[j] += 1
                        break
                if ans.passages and any(x in norm(ans.passages[0].highlight) for x in g):
                    hl += 1
            n = len(questions)
            report[mode] = {"hit@1": round(hits[0] / n, 4), "hit@3": round(hits[2] / n, 4),
                            f"hit@{args.k}": round(hits[-1] / n, 4),
                            "highlight@1": round(hl / n, 4), "answered": round(answered / n, 4)}
            print(mode, report[mode], file=sys.stderr)
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
