"""What adding one article to an index of 1,000 costs, beside a full build of the same corpus.

Usage: python bench/incremental.py [--dataset PIAF.json] [--articles 1000]

Prints one JSON object: the full build's seconds, the incremental update's seconds after one
article is added (target: at most 0.02 of the full build), the sentences each embedded, and
whether the updated index answers a set of questions exactly as a full rebuild of the same
corpus does. Both runs use one model already loaded, so neither pays for loading it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from qabot.config import load_settings
from qabot.embedding.encoder import embedder_for
from qabot.engine import Qabot
from qabot.index.open import open_index
from qabot.index.write import build_index
from qabot.ingest.sentences import split_sentences

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "piaf" / "piaf-dev.json"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=str(DEFAULT))
    ap.add_argument("--articles", type=int, default=1000)
    args = ap.parse_args()
    data = json.loads(Path(args.dataset).read_text(encoding="utf-8"))["data"]
    paragraphs = [(a["title"], p["context"]) for a in data for p in a["paragraphs"]]
    questions = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]][:50]

    def article(i: int) -> str:
        title, text = paragraphs[i % len(paragraphs)]
        parts = [text[s.start:s.end] for s in split_sentences(text)]
        turn = (i // len(paragraphs)) % max(1, len(parts))
        return f"Title: {title} ({i})\nLang: fr\n\n" + " ".join(parts[turn:] + parts[:turn])

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inc = load_settings(corpus_dir=root / "corpus", index_dir=root / "index")
        inc.corpus_dir.mkdir()
        for i in range(args.articles):
            (inc.corpus_dir / f"a{i:05d}.txt").write_text(article(i), encoding="utf-8")
        embedder = embedder_for(inc)
        embedder.encode_passages(["warm up"])
        print(f"full build of {args.articles} articles…", file=sys.stderr)
        t = time.perf_counter()
        full = build_index(inc, embedder=embedder)
        full_s = time.perf_counter() - t
        new = root / "corpus" / f"a{args.articles:05d}.txt"
        new.write_text(article(args.articles), encoding="utf-8")
        print("adding one article…", file=sys.stderr)
        t = time.perf_counter()
        added = build_index(inc, embedder=embedder)
        add_s = time.perf_counter() - t

        print("full rebuild of the same corpus, to compare answers…", file=sys.stderr)
        ref = load_settings(corpus_dir=inc.corpus_dir, index_dir=root / "ref")
        build_index(ref, embedder=embedder)
        a = Qabot(inc, open_index(inc), embedder)
        b = Qabot(ref, open_index(ref), embedder)
        # Vectors embedded in other batches differ by float noise (~1e-7), which may swap
        # passages whose scores tie exactly (the corpus repeats paragraphs): compare each
        # answer's passages in score order with ties by document id, scores to 5 decimals.
        def passages(bot: Qabot, q: str) -> list[tuple[float, str, str]]:
            return sorted((-round(p.score, 5), p.citation.doc_id, p.quote) for p in bot.ask(q).passages)

        same = all(passages(a, q) == passages(b, q) for q in questions)
    print(json.dumps({
        "articles": args.articles, "chunks": full.chunks,
        "full_build_s": round(full_s, 2), "full_build_embedded": full.embedded,
        "add_one_s": round(add_s, 3), "add_one_embedded": added.embedded,
        "ratio": round(add_s / full_s, 4), "identical_answers": same,
        "questions_compared": len(questions)}, indent=2))


if __name__ == "__main__":
    main()
