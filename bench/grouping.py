"""Precision and recall of near-duplicate grouping (qabot/ingest/duplicates.py), by threshold.

A labelled set is built from PIAF's French Wikipedia paragraphs (never copied into the
project): an article's first two paragraphs are a "story"; its versions are what outlets do to
a wire story (a new lead and a credit line with light edits, a shortened brief, an update with
a new paragraph, a heavier rewrite); the article's later paragraphs are a different story on the
same topic (same names and subject, other facts), and other articles are other stories. Every
document goes through the same `Grouper` the indexer uses (band lookup, then the exact check),
and each pair of documents is scored: same story or not.

    python bench/grouping.py [--data ../shared/data/piaf/piaf-dev.json] [--half tune|held-out]

The two halves split PIAF's articles by title: tune the threshold on one, report the other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qabot.ingest.duplicates import Grouper

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "piaf" / "piaf-dev.json"
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-Ý«\"])")


@dataclass(frozen=True)
class Doc:
    id: str
    story: str  # the label
    kind: str
    text: str


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text.strip()) if s]


def edit(text: str, rate: float, rng: random.Random, vocabulary: list[str]) -> str:
    """Replace or drop about `rate` of the words: a sub-editor's touch."""
    out = []
    for word in text.split():
        roll = rng.random()
        if roll < rate / 2:
            out.append(rng.choice(vocabulary))
        elif roll < rate:
            continue
        else:
            out.append(word)
    return " ".join(out)


def build(data: Path, half: str) -> list[Doc]:
    articles = json.loads(data.read_text(encoding="utf-8"))["data"]
    docs: list[Doc] = []
    rng = random.Random(11)
    # New facts for updates: paragraphs no story or other story here is made of.
    pool = [p["context"] for a in articles for p in a["paragraphs"][4:]]
    for a in articles:
        held_out = hashlib.sha256(f"grouping:{a['title']}".encode()).digest()[0] % 2 == 1
        if half == "tune" and held_out or half == "held-out" and not held_out:
            continue
        paras = [p["context"] for p in a["paragraphs"]]
        if len(paras) < 3:
            continue
        title = a["title"]
        story = "\n\n".join(paras[:2])
        words = story.split()
        lead = sentences(paras[0])
        docs.append(Doc(f"{title}/original", title, "original", story))
        rewire = "\n\n".join([" ".join(lead[1:]) or paras[0], paras[1]])
        docs.append(Doc(f"{title}/wire", title, "wire copy, new lead, 5% edits",
                        edit(rewire, 0.05, rng, words) + "\n\nAvec AFP."))
        brief = " ".join(lead[:2] + sentences(paras[1])[-1:])
        docs.append(Doc(f"{title}/brief", title, "shortened brief", brief))
        news = rng.choice(pool)
        docs.append(Doc(f"{title}/update", title, "update, new paragraph",
                        story + "\n\n" + news))
        docs.append(Doc(f"{title}/rewrite", title, "rewrite, 12% edits",
                        edit(story, 0.12, rng, words)))
        docs.append(Doc(f"{title}/other", f"{title}/other", "same topic, other story",
                        "\n\n".join(paras[2:4])))
    return docs


def group(docs: list[Doc], threshold: float) -> dict[str, str]:
    texts = {d.id: d.text for d in docs}
    stories: dict[str, str] = {}
    bodies: dict[str, str] = {}
    grouper = Grouper(threshold, lookup=lambda band, key: (), text_of=texts.__getitem__,
                      exact=bodies.get, story_of=stories.__getitem__)
    for d in docs:
        key = hashlib.sha256(" ".join(d.text.split()).encode()).hexdigest()
        look = grouper.place(d.id, d.text, key, d.id)
        stories[d.id] = look.story
        bodies.setdefault(key, d.id)
    return {i: grouper.story(s) for i, s in stories.items()}


def score(docs: list[Doc], found: dict[str, str]) -> dict[str, float]:
    tp = fp = fn = 0
    missed: dict[str, int] = {}
    for a, b in combinations(docs, 2):
        same, said = a.story == b.story, found[a.id] == found[b.id]
        tp += same and said
        fp += said and not same
        fn += same and not said
        if same and not said:
            kind = b.kind if a.kind == "original" else a.kind
            missed[kind] = missed.get(kind, 0) + 1
    return {"precision": round(tp / max(1, tp + fp), 4), "recall": round(tp / max(1, tp + fn), 4),
            "pairs_same": tp + fn, "false_groupings": fp, "missed": missed}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--half", choices=("tune", "held-out", "all"), default="tune")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.data.is_file():
        sys.exit(f"grouping: {args.data} not found: pass --data PATH to a SQuAD-format file")
    docs = build(args.data, args.half)
    rows = {t: score(docs, group(docs, t)) for t in THRESHOLDS}
    if args.json:
        print(json.dumps({"documents": len(docs), "half": args.half,
                          "thresholds": {str(t): r for t, r in rows.items()}}))
        return
    stories = len({d.story for d in docs})
    print(f"{len(docs)} documents, {stories} stories ({args.half} half of {args.data.name})")
    print(f"{'threshold':>9} {'precision':>9} {'recall':>7} {'false':>6}  missed by kind")
    for t, r in rows.items():
        print(f"{t:>9.2f} {r['precision']:>9.3f} {r['recall']:>7.3f} "
              f"{r['false_groupings']:>6}  {r['missed']}")


if __name__ == "__main__":
    main()
