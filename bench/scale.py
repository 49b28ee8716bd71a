"""How qabot holds up as the archive grows: build, disk, memory, question time, recall, updates.

Usage: python bench/scale.py [--sizes 100000,1000000] [--json] [--questions 100]
                             [--workdir DIR (kept)] [--piaf PIAF.json] [--again]

For each size, a synthetic archive of that many sentences (`synthetic.py`: PIAF sentences,
each mutated, dated over five years, from twenty outlets; vectors drawn around the real
vectors of the PIAF sentences they come from) is written, indexed by `build_index`, and
measured:

- build_s: the whole `build_index` (load, split, analyze, chunk, FAISS, BM25, SQLite), with
  the synthetic embedder standing in for the model (embedding costs the same at any size and
  is measured by bench/speed.py); build_peak_mb: this process's peak resident memory by then
  (archive writer, model, build); segments: how many the build wrote;
- disk_bytes: the live generation and its segments;
- bytes_per_sentence: resident memory of the dense index in a warm process (8-bit codes, graph,
  and the pages of exact vectors that 100 searches touched), over sentences;
- rss_oneshot_mb: peak resident memory of a one-shot `qabot ask --json` answered in-process
  (no background server);
- p50_ms, p95_ms: `Qabot.ask` on real PIAF questions in a warm process (the index's files
  read once first, into the page cache, as a process answering for a while has them), and
  p50_ratio: its p50 over the p50 of embedding the same questions alone, in the same process;
- recall_at_10: of the dense search qabot runs, against an exact scan of every live vector;
- add_one_s, delete_one_s: `qabot index` after adding one article in a new file, then after
  deleting one article from the oldest file (both with the synthetic embedder);
- open_s: opening the index in a new process (`open_index`), page cache dropped first when
  this machine lets us (`open_cold` says whether it did).

Targets at every size: recall@10 >= 0.98, p50 ratio <= 1.5, <= 700 bytes per sentence. With
--json the last line is one JSON object {"sizes": [...]}, else a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synthetic

ROOT = Path(__file__).resolve().parents[1]
QABOT_ASKS = 50  # sentences a question's first dense search fetches (retrieve.py)
FIELDS = ("sentences", "build_s", "disk_bytes", "bytes_per_sentence", "rss_oneshot_mb",
          "p50_ms", "p95_ms", "p50_ratio", "recall_at_10", "add_one_s", "delete_one_s",
          "open_s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--questions", type=int, default=100)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--piaf", type=Path, default=synthetic.DEFAULT_PIAF)
    ap.add_argument("--again", action="store_true",
                    help="measure the indexes a --workdir run left, as they are now (after "
                         "its add and delete), without building or updating: the question, "
                         "memory, recall and open figures of the code as it is now")
    ap.add_argument("--child", choices=["dense", "queries", "warm", "open"],
                    help=argparse.SUPPRESS)
    ap.add_argument("--index", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="qabot-scale-"))
    rows = []
    try:
        if args.again and args.workdir is None:
            raise SystemExit("--again needs the --workdir of an earlier run")
        for n in sizes:
            rows.append(measure_again(workdir / f"n{n}", args) if args.again
                        else measure(n, workdir / f"n{n}", args))
            log(json.dumps(rows[-1]))
            if args.workdir is None:  # a folder given is kept, to measure again
                shutil.rmtree(workdir / f"n{n}", ignore_errors=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps({"sizes": rows}))
    else:
        print_table(rows)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(n: int, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    from qabot.config import load_settings
    from qabot.embedding.encoder import embedder_for
    from qabot.index.open import read_stats
    from qabot.index.write import build_index

    folder.mkdir(parents=True, exist_ok=True)
    piaf = synthetic.load_piaf(args.piaf)
    log(f"[{n:,}] writing the archive…")
    corpus = synthetic.write_corpus(folder / "corpus", piaf, n)
    settings = load_settings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    real = embedder_for(settings)
    embedder = synthetic.SyntheticEmbedder(real, corpus, synthetic.base_vectors(piaf, real))
    log(f"[{n:,}] indexing {corpus.sentences:,} sentences in {corpus.articles:,} articles…")
    t = time.perf_counter()
    built = build_index(settings, embedder=embedder)
    build_s = time.perf_counter() - t
    # This process's peak so far: the archive writer, the model, and the build.
    build_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stats = read_stats(settings)
    env = child_env(settings.corpus_dir, settings.index_dir)

    log(f"[{n:,}] dense memory and recall…")
    dense = child("dense", settings.index_dir, env, args)
    log(f"[{n:,}] questions in a warm process…")
    warm = child("warm", settings.index_dir, env, args)
    cold = drop_page_cache()
    opened = child("open", settings.index_dir, env, args)
    log(f"[{n:,}] one-shot ask…")
    rss_oneshot_mb, oneshot_s = one_shot(piaf.questions[0], env)

    log(f"[{n:,}] adding one article, deleting one…")
    extra = corpus.extra_article(0)
    (settings.corpus_dir / "zz-extra.jsonl").write_text(
        json.dumps(extra, ensure_ascii=False) + "\n", encoding="utf-8")
    t = time.perf_counter()
    added = build_index(settings, embedder=embedder)
    add_one_s = time.perf_counter() - t
    first = min(settings.corpus_dir.glob("synthetic-*.jsonl"))
    lines = first.read_text(encoding="utf-8").splitlines()
    first.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    t = time.perf_counter()
    deleted = build_index(settings, embedder=embedder)
    delete_one_s = time.perf_counter() - t
    assert (added.added, deleted.removed) == (1, 1), (added, deleted)
    return {
        "sentences": built_sentences(settings),
        "articles": built.documents,
        "build_s": round(build_s, 1),
        "build_peak_mb": round(build_peak_mb),
        "segments": built.segments,
        "disk_bytes": stats.size_bytes,
        "bytes_per_sentence": round(dense["dense_bytes"] / max(1, dense["sentences"])),
        "rss_oneshot_mb": round(rss_oneshot_mb),
        "oneshot_s": round(oneshot_s, 2),
        "rss_warm_mb": warm["rss_mb"],
        "p50_ms": warm["p50_ms"],
        "p95_ms": warm["p95_ms"],
        "embed_p50_ms": warm["embed_p50_ms"],
        "p50_ratio": round(warm["p50_ms"] / warm["embed_p50_ms"], 2),
        "recall_at_10": dense["recall_at_10"],
        "recall_at_10_qabot": dense["recall_at_10_qabot"],
        "add_one_s": round(add_one_s, 2),
        "add_one_segments": added.segments,
        "delete_one_s": round(delete_one_s, 2),
        "open_s": opened["open_s"],
        "open_cold": cold,
    }


def measure_again(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """`measure`'s figures that need no building or updating, of the index in `folder`."""
    from qabot.config import load_settings
    from qabot.index.open import read_stats

    settings = load_settings(corpus_dir=folder / "corpus", index_dir=folder / "index")
    env = child_env(settings.corpus_dir, settings.index_dir)
    dense = child("dense", settings.index_dir, env, args)
    warm = child("warm", settings.index_dir, env, args)
    cold = drop_page_cache()
    opened = child("open", settings.index_dir, env, args)
    rss_oneshot_mb, oneshot_s = one_shot(synthetic.load_piaf(args.piaf).questions[0], env)
    return {
        "sentences": built_sentences(settings),
        "segments": len(json.loads((read_stats(settings).path / "manifest.json").read_text())[
            "segments"]),
        "build_s": None, "disk_bytes": read_stats(settings).size_bytes,
        "bytes_per_sentence": round(dense["dense_bytes"] / max(1, dense["sentences"])),
        "rss_oneshot_mb": round(rss_oneshot_mb), "oneshot_s": round(oneshot_s, 2),
        "rss_warm_mb": warm["rss_mb"], "p50_ms": warm["p50_ms"], "p95_ms": warm["p95_ms"],
        "embed_p50_ms": warm["embed_p50_ms"],
        "p50_ratio": round(warm["p50_ms"] / warm["embed_p50_ms"], 2),
        "recall_at_10": dense["recall_at_10"], "recall_at_10_qabot": dense["recall_at_10_qabot"],
        "add_one_s": None, "delete_one_s": None, "open_s": opened["open_s"], "open_cold": cold,
    }


def built_sentences(settings: Any) -> int:
    from qabot.index.open import current_generation

    gen = current_generation(settings.index_dir)
    assert gen is not None
    return int(json.loads((gen / "meta.json").read_text())["sentences"])


def child_env(corpus: Path, index: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QABOT_CORPUS_DIR=str(corpus), QABOT_INDEX_DIR=str(index),
               QABOT_SERVE_IDLE_SECONDS="0", QABOT_LOG_LEVEL="WARNING")
    return env


def child(kind: str, index: Path, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--index", str(index),
                          "--questions", str(args.questions), "--piaf", str(args.piaf)],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"the {kind} measurement failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# A child's peak memory counts what it shared with its parent before it exec'd: this bench is
# large by then, so a small launcher process starts `qabot ask` and reports its peak.
_LAUNCHER = """
import os, subprocess, sys, time
t = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(proc.pid, 0)
code = os.waitstatus_to_exitcode(status)
if code not in (0, 1):  # 1: the corpus holds no answer
    sys.exit(proc.stderr.read().decode())
print(usage.ru_maxrss / 1024, time.perf_counter() - t)
"""


def one_shot(question: str, env: dict[str, str]) -> tuple[float, float]:
    """Peak resident memory (MB) and seconds of `qabot ask --json` answered in-process."""
    qabot = Path(sys.executable).with_name("qabot")
    out = subprocess.run([sys.executable, "-c", _LAUNCHER, str(qabot), "ask", question,
                          "--json"], env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"qabot ask failed: {out.stderr}")
    mb, seconds = out.stdout.split()
    return float(mb), float(seconds)


def drop_page_cache() -> bool:
    """Empty the kernel's page cache, so that opening reads from disk; False when not allowed."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def questions_of(args: argparse.Namespace) -> list[str]:
    qs = synthetic.load_piaf(args.piaf).questions
    step = max(1, len(qs) // args.questions)
    return qs[::step][:args.questions]


def child_queries(args: argparse.Namespace) -> dict[str, Any]:
    """Embed the questions into a file beside the index, for `child_dense` to read."""
    from qabot.config import load_settings
    from qabot.embedding.encoder import embedder_for

    settings = load_settings()
    path = settings.index_dir.parent / "queries.npy"
    np.save(path, embedder_for(settings).encode_queries(questions_of(args)), allow_pickle=False)
    return {"path": str(path)}


def child_dense(args: argparse.Namespace) -> dict[str, Any]:
    """Resident memory of the dense index alone, and its recall against exact search. Neither
    torch nor the model is loaded here: memory they freed would be reused by the index and hide
    it; the questions' vectors come from `child_queries`."""
    from qabot.config import load_settings
    from qabot.index.dense import DenseIndex, DenseSet
    from qabot.index.generations import DENSE, current_generation, segment_dir
    from qabot.index.open import open_index

    settings = load_settings()
    made = subprocess.run([sys.executable, __file__, "--child", "queries", "--questions",
                           str(args.questions), "--piaf", str(args.piaf)],
                          capture_output=True, text=True, check=True)
    queries = np.load(json.loads(made.stdout.strip().splitlines()[-1])["path"])
    gen = current_generation(settings.index_dir)
    assert gen is not None
    names = [s["name"] for s in json.loads((gen / "manifest.json").read_text())["segments"]]
    import faiss  # noqa: F401 - the library's own pages are not the index's

    before = rss_bytes()
    dense = DenseSet([DenseIndex.load(segment_dir(settings.index_dir, n) / DENSE) for n in names])
    found = [dense.search(q, 10)[0] for q in queries]
    # What retrieval asks for first: a sentence per chunk wanted, 50 chunks (see retrieve).
    found_qabot = [dense.search(q, QABOT_ASKS)[0][:10] for q in queries]
    dense_bytes = rss_bytes() - before
    index = open_index(settings)
    if index.dense.live is not None:  # (an index measured again after the bench's delete)
        dense.live = index.dense.live
        found = [dense.search(q, 10)[0] for q in queries]
        found_qabot = [dense.search(q, QABOT_ASKS)[0][:10] for q in queries]
    index.store.close()
    exact = exact_top(dense, queries, 10)
    recall = np.mean([len(set(f.tolist()) & set(e.tolist())) / 10
                      for f, e in zip(found, exact, strict=True)])
    recall_qabot = np.mean([len(set(f.tolist()) & set(e.tolist())) / 10
                            for f, e in zip(found_qabot, exact, strict=True)])
    return {"dense_bytes": dense_bytes, "sentences": len(dense) if dense.live is None
            else int(dense.live.sum()), "recall_at_10": round(float(recall), 4),
            "recall_at_10_qabot": round(float(recall_qabot), 4)}


def exact_top(dense: Any, queries: np.ndarray, k: int) -> list[np.ndarray]:
    """The true top k of every query, by a scan of every live exact vector, in blocks."""
    best = np.full((len(queries), k), -np.inf, dtype=np.float32)
    ids = np.zeros((len(queries), k), dtype=np.int64)
    step = 200_000
    for start in range(0, len(dense), step):
        rows = np.arange(start, min(len(dense), start + step))
        if dense.live is not None:
            rows = rows[dense.live[rows]]
        sims = queries @ dense.vectors(rows).T
        both = np.concatenate([best, sims], axis=1)
        both_ids = np.concatenate([ids, np.broadcast_to(rows, (len(queries), len(rows)))], axis=1)
        top = np.argsort(-both, axis=1, kind="stable")[:, :k]
        best = np.take_along_axis(both, top, axis=1)
        ids = np.take_along_axis(both_ids, top, axis=1)
    return list(ids)


def child_warm(args: argparse.Namespace) -> dict[str, Any]:
    """Question time in a warm process, beside bare embedding of the same questions."""
    from qabot.config import load_settings
    from qabot.engine import Qabot

    settings = load_settings()
    # A process answering for a while has the index's files in the kernel's page cache (8.8 GB
    # at 3M sentences fits this machine's memory beside the process): read them once, so that
    # the figure is that steady state, not the first questions' disk reads.
    for path in settings.index_dir.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                while fh.read(1 << 24):
                    pass
    bot = Qabot.open(settings)
    bot.warm_up()
    questions = questions_of(args)
    for q in questions[:5]:
        bot.ask(q)
    embed, ask = [], []
    for _ in range(2):
        for q in questions:
            t = time.perf_counter()
            bot.embedder.encode_query(q)
            embed.append(time.perf_counter() - t)
            t = time.perf_counter()
            bot.ask(q)
            ask.append(time.perf_counter() - t)
    return {"p50_ms": round(statistics.median(ask) * 1000, 1),
            "p95_ms": round(float(np.percentile(ask, 95)) * 1000, 1),
            "embed_p50_ms": round(statistics.median(embed) * 1000, 1),
            "rss_mb": round(rss_bytes() / 2**20)}


def child_open(args: argparse.Namespace) -> dict[str, Any]:
    from qabot.config import load_settings
    from qabot.index.open import open_index

    settings = load_settings()
    import faiss  # noqa: F401 - imports are not the index's to pay for

    t = time.perf_counter()
    index = open_index(settings)
    seconds = time.perf_counter() - t
    index.store.close()
    return {"open_s": round(seconds, 2)}


CHILDREN = {"dense": child_dense, "queries": child_queries, "warm": child_warm,
            "open": child_open}


def print_table(rows: list[dict[str, Any]]) -> None:
    heads = ("sentences", "build s", "disk MB", "B/sent", "1-shot MB", "p50 ms", "p95 ms",
             "ratio", "recall@10", "add s", "delete s", "open s")
    print("  ".join(f"{h:>10}" for h in heads))
    for r in rows:
        cells = (f"{r['sentences']:,}", r["build_s"], round(r["disk_bytes"] / 2**20),
                 r["bytes_per_sentence"], r["rss_oneshot_mb"], r["p50_ms"], r["p95_ms"],
                 r["p50_ratio"], r["recall_at_10"], r["add_one_s"], r["delete_one_s"],
                 r["open_s"])
        print("  ".join(f"{c!s:>10}" for c in cells))
    print("targets: recall@10 >= 0.98, ratio <= 1.5, <= 700 bytes per sentence; "
          f"embedding p50 {', '.join(str(r['embed_p50_ms']) for r in rows)} ms")


if __name__ == "__main__":
    main()
