"""The default model against all-MiniLM-L6-v2, as a user meets them: each `qabot` command run
in its own process, timed, with its peak memory (max RSS).

Usage: python bench/models.py [--dataset PIAF.json] [--models e5,minilm]

For each model: the first build of the model folder (the default model only: MiniLM ships
ready), `qabot index` of the shipped article and of PIAF dev (one document per article), and a
one-shot `qabot ask`. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = REPO.parent / "shared" / "data" / "piaf" / "piaf-dev.json"
MODELS = {"e5": "intfloat/multilingual-e5-small", "minilm": "sentence-transformers/all-MiniLM-L6-v2"}
QUESTION = "Combien de recrues sont arrivées au camp de Bougouni ?"


_WRAP = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
         "sys.exit(done.returncode)")


def run(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Seconds and peak RSS (MB) of one `qabot` process, run under a fresh wrapper so that
    its children's peak is this process's alone."""
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _WRAP, sys.executable, "-m", "qabot", *args],
                          env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        sys.exit(f"qabot {' '.join(args)} failed: {done.stderr.strip()}")
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return {"seconds": round(seconds, 2), "max_rss_mb": round(peak_kb / 1024)}


def piaf_corpus(dataset: Path, folder: Path) -> None:
    data = json.loads(dataset.read_text(encoding="utf-8"))["data"]
    folder.mkdir(parents=True)
    with open(folder / "piaf.jsonl", "w", encoding="utf-8") as fh:
        for i, article in enumerate(data):
            text = "\n\n".join(p["context"] for p in article["paragraphs"])
            fh.write(json.dumps({"id": f"a{i}", "title": article["title"], "text": text},
                                ensure_ascii=False) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default=str(DEFAULT))
    ap.add_argument("--models", default="e5,minilm")
    args = ap.parse_args()
    report: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        piaf_corpus(Path(args.dataset), tmp / "piaf")
        for key in args.models.split(","):
            env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
            env.update(QABOT_EMBEDDING_MODEL=MODELS[key], QABOT_MODEL_CACHE=str(tmp / "cache"))
            row: dict[str, object] = {"model": MODELS[key]}
            if key == "e5":  # the first start builds the model folder; time that alone
                t = time.perf_counter()
                code = ("from pathlib import Path; from qabot.embedding.cache import "
                        f"default_model_folder; default_model_folder(Path({str(tmp / 'cache')!r}))")
                subprocess.run([sys.executable, "-c", code], env=env, check=True,
                               capture_output=True)
                row["first_build_s"] = round(time.perf_counter() - t, 2)
            shipped = {**env, "QABOT_CORPUS_DIR": str(REPO / "corpus"),
                       "QABOT_INDEX_DIR": str(tmp / f"{key}-shipped")}
            row["index_shipped"] = run(["index", "-q"], shipped)
            row["ask_shipped"] = run(["ask", QUESTION], shipped)
            piaf = {**env, "QABOT_CORPUS_DIR": str(tmp / "piaf"),
                    "QABOT_INDEX_DIR": str(tmp / f"{key}-piaf")}
            row["index_piaf_dev"] = run(["index", "-q"], piaf)
            row["ask_piaf_dev"] = run(["ask", "Qui a découvert M87 ?"], piaf)
            report[key] = row
            print(key, row, file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
