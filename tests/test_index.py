"""Building, reusing and refusing indexes: real model, FAISS, BM25 and SQLite."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qabot.config import load_settings
from qabot.embedding import MINILM, model_path
from qabot.embedding.encoder import Embedder
from qabot.engine import Qabot
from qabot.errors import (
    CorpusError,
    IndexCorruptError,
    IndexMismatchError,
    ModelLoadError,
    NoIndexError,
)
from qabot.index import dense as dense_module
from qabot.index import lexical as lexical_module
from qabot.index import store as store_module
from qabot.index.dense import DenseIndex, DenseSet
from qabot.index.lexical import K1, B, LexicalIndex, LexicalSet, _largest
from qabot.index.open import (
    UNDATED,
    DocumentTable,
    SentenceChunks,
    current_generation,
    day_number,
    open_index,
    read_stats,
)
from qabot.index.store import DocumentFacts
from qabot.index.write import build_index
from tests.conftest import CORPUS, write

QUESTION = "Quel ministre a reçu l'envoyé américain ?"


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS, folder)
    return folder


def test_index_is_reused_until_the_corpus_changes(corpus: Path, tmp_path: Path,
                                                  embedder: Embedder) -> None:
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    first = build_index(settings, embedder=embedder)
    assert not first.up_to_date and first.documents == 1 and first.chunks >= 2
    again = build_index(settings, embedder=embedder)
    assert again.up_to_date
    write(corpus / "new.txt", "Title: Pluie à Bamako\nLang: fr\n\nIl a plu toute la nuit à Bamako.")
    segments = tmp_path / "index" / "segments"
    (shipped,) = segments.iterdir()
    written = {p: p.stat().st_mtime_ns for p in shipped.rglob("*")}
    third = build_index(settings, embedder=embedder)
    assert not third.up_to_date and third.documents == 2
    assert third.embedded == 1 and third.segments == 2 and third.merged == 0
    # The new article went into a segment of its own: the first was not rewritten.
    assert {p: p.stat().st_mtime_ns for p in shipped.rglob("*")} == written
    assert len(list(segments.iterdir())) == 2
    # the live generation is left on disk, and the one it replaced (for readers still on it)
    gens = sorted(p.name for p in (tmp_path / "index").iterdir() if p.name.startswith("gen-"))
    live = current_generation(tmp_path / "index")
    assert live is not None and len(gens) == 2 and gens[-1] == live.name
    bot = Qabot(settings, open_index(settings), embedder)
    assert "plu toute la nuit" in bot.ask("A-t-il plu à Bamako ?").passages[0].quote


def test_stats_are_read_from_metadata(shipped_settings: object) -> None:
    stats = read_stats(shipped_settings)  # type: ignore[arg-type]
    assert stats.documents == 1
    assert stats.chunks >= 2
    assert stats.model == "intfloat/multilingual-e5-small"
    assert stats.dimension == 384
    assert stats.languages == ("fr",)
    assert stats.size_bytes > 10_000
    assert 0 <= stats.age_seconds < 3600


def test_no_index_says_to_run_qabot_index(tmp_path: Path) -> None:
    settings = load_settings(index_dir=tmp_path / "none")
    with pytest.raises(NoIndexError, match="run `qabot index`"):
        open_index(settings)


def test_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    write(tmp_path / "c" / "notes.pdf", b"%PDF")
    settings = load_settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i")
    with pytest.raises(CorpusError, match="no articles to index .* 1 skipped"):
        build_index(settings)


def test_index_of_another_model_is_refused(shipped_settings: object, tmp_path: Path) -> None:
    other = load_settings(index_dir=shipped_settings.index_dir,  # type: ignore[attr-defined]
                          embedding_model=str(tmp_path))
    with pytest.raises(IndexMismatchError, match="built with model .* run `qabot index --rebuild`"):
        open_index(other)


def test_model_of_another_dimension_is_refused(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer, models

    model_dir = tmp_path / "model"
    shutil.copytree(model_path(MINILM, tmp_path), model_dir)
    settings = load_settings(corpus_dir=CORPUS, index_dir=tmp_path / "index",
                             embedding_model=str(model_dir))
    build_index(settings)
    # The same name now holds a model whose vectors are 128-dimensional.
    base = SentenceTransformer(str(model_dir), device="cpu")
    dense = models.Dense(in_features=384, out_features=128)
    SentenceTransformer(modules=[*base, dense], device="cpu").save(str(model_dir))
    bot = Qabot.open(settings)
    with pytest.raises(IndexMismatchError, match="dimension 128, the index holds dimension 384"):
        bot.ask(QUESTION)


def test_failed_rebuild_leaves_the_previous_index_usable(corpus: Path, tmp_path: Path,
                                                         embedder: Embedder) -> None:
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, embedder=embedder)
    before = current_generation(settings.index_dir)
    broken = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index",
                           embedding_model=str(tmp_path / "no-such-model"))
    with pytest.raises(ModelLoadError, match="cannot load embedding model"):
        build_index(broken, rebuild=True)
    assert current_generation(settings.index_dir) == before
    bot = Qabot(settings, open_index(settings), embedder)
    assert "Abdoulaye Diop" in bot.ask(QUESTION).passages[0].highlight


def test_truncated_dense_file_is_reported_with_the_fix(corpus: Path, tmp_path: Path,
                                                       embedder: Embedder) -> None:
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, embedder=embedder)
    (segment,) = (settings.index_dir / "segments").iterdir()
    dense = segment / "dense" / "dense.faiss"
    dense.write_bytes(dense.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match="qabot index --rebuild"):
        open_index(settings)


def test_a_second_writer_is_turned_away(corpus: Path, tmp_path: Path, embedder: Embedder) -> None:
    from qabot.errors import IndexBusyError
    from qabot.index.generations import writer_lock

    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    with writer_lock(settings.index_dir), pytest.raises(IndexBusyError, match="another"):
        build_index(settings, embedder=embedder)
    assert build_index(settings, embedder=embedder).documents == 1  # free again


def test_corrupt_metadata_file_is_reported_with_the_fix(corpus: Path, tmp_path: Path,
                                                        embedder: Embedder) -> None:
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, embedder=embedder)
    (segment,) = (settings.index_dir / "segments").iterdir()
    store = segment / "qabot.sqlite"
    store.write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexCorruptError, match="qabot index --rebuild"):
        open_index(settings)


def test_a_sentence_belongs_to_every_chunk_that_holds_it() -> None:
    spans = SentenceChunks.from_table(
        np.array([(0, 0, 2, 1), (1, 2, 4, 1), (2, 4, 6, 2), (3, 7, 7, 3)], dtype=np.int64),
        ["de", "fr", "en", "en"])  # row 0: a copy, no chunks of its own
    assert spans.languages == ("en", "fr")  # only the languages of text that is searched
    assert spans.other_language("fr").tolist() == [False, False, True, True]
    assert spans.other_language("de").tolist() == [True] * 4
    assert spans.chunks_of(0) == [0]
    assert spans.chunks_of(2) == [0, 1]  # the overlap sentence
    assert spans.chunks_of(5) == [2]
    assert spans.chunks_of(7) == [3]
    assert spans.doc.tolist() == [1, 1, 2, 3]
    table = DocumentTable.from_facts([DocumentFacts(1, "a", None, None, None, None),
                                      DocumentFacts(2, "b", "RFI", None, None, "2025-07-22"),
                                      DocumentFacts(3, "c", None, None, "b", "2025-07-23")])
    assert table.day.tolist() == [UNDATED, day_number("2025-07-22"), day_number("2025-07-23")]
    assert table.original.tolist() == [1, 2, 2]  # a copy's text is its original's chunks
    assert day_number("1970-01-02") == 1 and day_number(None) == UNDATED
    assert day_number("1969-12-31") != UNDATED


@pytest.mark.parametrize("size", [999, 3000])  # flat, then IVF (threshold lowered to 1,000)
def test_a_filtered_search_returns_only_allowed_ids_best_first(
        size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import faiss

    monkeypatch.setattr(dense_module, "APPROXIMATE_FROM", 1000)
    rng = np.random.default_rng(size)
    data = clustered_unit_vectors(rng, size + 40)
    vectors, queries = data[:size], data[size:]
    index = DenseIndex.build(vectors)
    assert isinstance(faiss_base(index),
                      faiss.IndexIVFScalarQuantizer if size >= 1000 else faiss.IndexScalarQuantizer)
    many = np.arange(size) % 3 != 0  # more than APPROXIMATE_FROM allowed: IVF, filtered
    few = np.zeros(size, dtype=bool)
    few[rng.choice(size, 30, replace=False)] = True  # a narrow window: an exact scan
    for allowed in (many, few):
        recalls = []
        for q in queries:
            got, scores = index.search(q, 10, allowed)
            assert len(got) == 10 and allowed[got].all()
            assert np.all(np.diff(scores) <= 1e-6)
            np.testing.assert_allclose(scores, vectors[got] @ q, atol=1e-5)
            ok = np.flatnonzero(allowed)
            exact = ok[np.argsort(-(vectors[ok] @ q))[:10]]
            recalls.append(len(set(got.tolist()) & set(exact.tolist())) / 10)
        assert np.mean(recalls) >= 0.95
    nothing = np.zeros(size, dtype=bool)
    assert len(index.search(queries[0], 10, nothing)[0]) == 0


def test_dense_mode_finds_a_sentence_by_meaning_alone(tmp_path: Path, embedder: Embedder) -> None:
    write(tmp_path / "c" / "storm.md", "---\ntitle: Storm warning\nlang: en\n---\n"
          "A severe storm will hit the coast of Brittany on Friday. Ferries to the islands are "
          "cancelled until Saturday. Winds of 120 km/h are expected near Brest. Schools will "
          "stay closed and the town hall asks residents to tie down garden furniture.\n")
    write(tmp_path / "c" / "bread.md", "---\ntitle: Bakery\nlang: en\n---\n"
          "The bakery on the main square sells sourdough loaves every morning.\n")
    settings = load_settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i")
    build_index(settings, embedder=embedder)
    bot = Qabot(settings, open_index(settings), embedder)
    answer = bot.ask("How fast will the gusts blow?", mode="dense")
    assert answer.passages[0].citation.title == "Storm warning"
    assert "120 km/h" in answer.passages[0].highlight


def clustered_unit_vectors(rng: np.random.Generator, n: int, dim: int = 384,
                           clusters: int = 200, spread: float = 1.5) -> np.ndarray:
    """Unit vectors gathered around topics, as sentence embeddings are (uniformly random ones
    in 384 dimensions are the worst case for any graph index, and nothing like a corpus)."""
    centers = rng.standard_normal((clusters, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    noise = rng.standard_normal((n, dim)).astype(np.float32) * (spread / np.sqrt(dim))
    vectors = centers[rng.integers(0, clusters, n)] + noise
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def faiss_base(index: DenseIndex) -> Any:
    import faiss

    return faiss.downcast_index(index._index)


def test_dense_index_switches_to_ivf_at_its_threshold_and_keeps_recall(tmp_path: Path) -> None:
    """The default threshold, unpatched: a segment of APPROXIMATE_FROM sentences is searched
    by an inverted file over 8-bit codes, as closely as an exact scan, with exact scores, and
    reads back from disk the same; the exact vectors are read from disk, not loaded."""
    import faiss

    n = dense_module.APPROXIMATE_FROM
    rng = np.random.default_rng(20_000)
    data = clustered_unit_vectors(rng, n + 300)
    vectors, queries = data[:n], data[n:]

    assert isinstance(faiss_base(DenseIndex.build(vectors[:n - 1])),
                      faiss.IndexScalarQuantizer)  # one vector short: a scan of every code
    index = DenseIndex.build(vectors)
    base = faiss_base(index)
    assert isinstance(base, faiss.IndexIVFScalarQuantizer)
    assert base.metric_type == faiss.METRIC_INNER_PRODUCT
    assert (base.nlist, base.nprobe) == (512, dense_module.IVF_PROBE_MIN)
    assert (len(index), index.dimension) == (n, 384)

    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    found = [index.search(q, 10) for q in queries]
    recall = np.mean([len(set(f[0].tolist()) & set(e.tolist())) / 10
                      for f, e in zip(found, exact, strict=True)])
    assert recall >= 0.98, recall
    # The scores are the exact cosines of the rows returned, best first.
    for q, (got, scores) in zip(queries[:20], found[:20], strict=True):
        np.testing.assert_allclose(scores, vectors[got] @ q, atol=1e-6)
        assert np.all(np.diff(scores) <= 0)

    folder = tmp_path / "dense"
    folder.mkdir()
    index.save(folder)
    loaded = DenseIndex.load(folder)
    assert isinstance(faiss_base(loaded), faiss.IndexIVFScalarQuantizer)
    assert isinstance(loaded._vectors, dense_module.VectorFile)  # read, not loaded
    assert faiss_base(loaded).nprobe == dense_module.IVF_PROBE_MIN
    assert (len(loaded), loaded.dimension) == (n, 384)
    for q, (got, scores) in zip(queries, found, strict=True):
        again, again_scores = loaded.search(q, 10)
        np.testing.assert_array_equal(again, got)
        np.testing.assert_allclose(again_scores, scores, rtol=1e-6)

    some = rng.choice(n, 50, replace=False)
    for each in (index, loaded):
        np.testing.assert_array_equal(each.vectors(some), vectors[some])
        np.testing.assert_allclose(each.similarity(queries[0], some),
                                   vectors[some] @ queries[0], atol=1e-6)
        assert each.vectors(np.array([], dtype=np.int64)).shape == (0, 384)


def test_ivf_lists_grow_with_the_segment() -> None:
    assert [dense_module.ivf_lists(n) for n in (20_000, 100_000, 1_000_000, 3_000_000)] == [
        512, 1024, 4096, 8192]
    assert dense_module.ivf_lists(3_000) == 64  # 39 vectors a list at least
    assert [dense_module.ivf_probes(n) for n in (64, 512, 4096, 8192, 16384)] == [
        64, 64, 64, 64, 128]


def test_several_ivf_segments_each_search_fewer_lists_and_keep_recall() -> None:
    """An archive of several large segments: each searches IVF_PROBE_MIN_SHARED lists (a
    question pays for every segment), and together they still find what an exact scan does."""
    n = dense_module.APPROXIMATE_FROM
    rng = np.random.default_rng(40_000)
    data = clustered_unit_vectors(rng, 2 * n + 100)
    vectors, queries = data[:2 * n], data[2 * n:]
    dense = DenseSet([DenseIndex.build(vectors[:n]), DenseIndex.build(vectors[n:])])
    assert dense._probes == [dense_module.IVF_PROBE_MIN_SHARED] * 2
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    recall = np.mean([len(set(dense.search(q, 10)[0].tolist()) & set(e.tolist())) / 10
                      for q, e in zip(queries, exact, strict=True)])
    assert recall >= 0.98, recall
    for q in queries[:10]:  # the segments on this thread alone: the same
        ids, sims = dense.search(q, 10)
        one_by_one = dense.search(q, 10, side_by_side=False)
        np.testing.assert_array_equal(one_by_one[0], ids)
        np.testing.assert_array_equal(one_by_one[1], sims)


def test_an_ivf_segment_with_many_live_rows_searches_them_by_code_and_skips_the_deleted(
) -> None:
    """Deletions that leave most of a large segment live (or a filter that allows most of it)
    search its lists, picked by the float16 centroids, skipping the rows left out: none of
    them is ever found, and what is found is what an exact scan of the others finds."""
    n = 2 * dense_module.APPROXIMATE_FROM + 5_000
    rng = np.random.default_rng(42_000)
    data = clustered_unit_vectors(rng, n + 40)
    vectors, queries = data[:n], data[n:]
    live = rng.random(n) > 0.2
    dense = DenseSet([DenseIndex.build(vectors)], live)
    assert dense.parts[0].lists  # an IVF segment, searched with a selector (not scanned)
    allowed = rng.random(n) > 0.3
    for mask in (None, allowed):
        ok = np.flatnonzero(live if mask is None else live & mask)
        hits = 0
        for q in queries:
            got, scores = dense.search(q, 10, mask)
            assert live[got].all() and (mask is None or mask[got].all())
            np.testing.assert_allclose(scores, vectors[got] @ q, atol=1e-6)
            hits += len(set(got.tolist()) & set(ok[np.argsort(-(vectors[ok] @ q))[:10]].tolist()))
        assert hits / (10 * len(queries)) >= 0.98


def test_work_shared_with_the_search_thread_runs_each_task_once_in_order() -> None:
    """The two searches of a question, cut into tasks, come back whole and in order whichever
    thread ran each task; an error in one reaches the question, and the thread is still there
    for the next."""
    from qabot.threads import LazyPool, Split

    pool = LazyPool(1, "test-share")
    runs: list[tuple[str, int]] = []

    def task(name: str, i: int) -> tuple[str, int]:
        runs.append((name, i))
        return name, i

    first = Split([lambda i=i: task("a", i) for i in range(5)], list)
    second = Split([lambda i=i: task("b", i) for i in range(3)], lambda found: found[::-1])
    for _ in range(20):
        runs.clear()
        a, b = pool.run(first, second)
        assert a == [("a", i) for i in range(5)]
        assert b == [("b", i) for i in (2, 1, 0)]
        assert sorted(runs) == sorted([*a, *b])  # each once

    def fails() -> None:
        raise ValueError("a segment's search failed")

    with pytest.raises(ValueError, match="segment's search failed"):
        pool.run(Split([lambda: 1, fails, lambda: 3], list))
    assert pool.run(Split([lambda: 1, lambda: 2], sum)) == [3]


def test_a_busy_search_thread_never_holds_up_a_question() -> None:
    """When the search thread is busy with another question's work, this question runs all
    its tasks itself rather than wait."""
    import threading

    from qabot.threads import LazyPool, Split

    pool = LazyPool(1, "test-busy")
    release = threading.Event()
    busy = pool.get().submit(release.wait, 30)
    done = threading.Event()
    answers: list[Any] = []

    def question() -> None:
        answers.extend(pool.run(Split([lambda i=i: i * i for i in range(6)], sum)))
        done.set()

    threading.Thread(target=question).start()
    try:
        assert done.wait(10), "the question waited for the busy search thread"
        assert answers == [55]
    finally:
        release.set()
        busy.result()


def test_a_search_from_a_new_thread_starts_no_openmp_threads() -> None:
    """The bot asks from worker threads: a search there runs on that thread alone, and leaves
    no OpenMP thread behind (one would spin on the core the search thread needs)."""
    import threading
    import time

    def threads() -> int:
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("Threads:"))
                   .split()[1])

    rng = np.random.default_rng(43_000)
    vectors = clustered_unit_vectors(rng, dense_module.APPROXIMATE_FROM + 2_000, dim=64)
    index = DenseIndex.build(vectors)
    assert index.lists
    seen: list[int] = []

    def ask() -> None:
        for q in vectors[:20]:
            index.candidates(q, 10)
        seen.append(threads())

    before = threads()
    worker = threading.Thread(target=ask)
    worker.start()
    worker.join()
    assert seen == [before + 1]  # the worker itself, nothing more
    # (the kernel lets a thread go a moment after Python's join returns)
    deadline = time.monotonic() + 5
    while threads() != before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threads() == before


def test_both_threads_take_a_questions_tasks_and_questions_at_once_keep_their_own() -> None:
    """The search thread does take part of a question's tasks (two tasks that can only finish
    together, on two threads); questions asked from several threads at once each get their
    own answers back."""
    import threading

    from qabot.threads import LazyPool, Split

    pool = LazyPool(1, "test-both")
    meeting = threading.Barrier(2, timeout=10)

    def meet() -> str:
        meeting.wait()
        return threading.current_thread().name

    names = pool.run(Split([meet, meet], list))[0]
    assert len(set(names)) == 2

    answers: dict[int, list[Any]] = {}

    def question(k: int) -> None:
        for _ in range(50):
            got = pool.run(Split([lambda i=i: (k, i) for i in range(7)], list),
                           Split([lambda: k, lambda: 1], sum))
            assert got == [[(k, i) for i in range(7)], k + 1]
        answers[k] = got

    askers = [threading.Thread(target=question, args=(k,)) for k in range(4)]
    for t in askers:
        t.start()
    for t in askers:
        t.join(60)
    assert sorted(answers) == [0, 1, 2, 3]


def test_segments_scanned_exactly_and_searched_by_code_together_find_the_best() -> None:
    """A filter (or deletions) leaving few rows of a segment makes it scan their exact vectors;
    beside a segment searched by code, both kinds of candidates are weighed together."""
    n = dense_module.APPROXIMATE_FROM + 1_000
    rng = np.random.default_rng(41_000)
    data = clustered_unit_vectors(rng, n + 5_000 + 50)
    ivf, flat, queries = data[:n], data[n:n + 5_000], data[n + 5_000:]
    both = np.vstack([ivf, flat])
    live = np.ones(len(both), dtype=bool)
    live[:1_500] = False  # the IVF segment down to 19,500 live rows: scanned exactly
    dense = DenseSet([DenseIndex.build(ivf), DenseIndex.build(flat)], live)
    allowed = np.zeros(len(both), dtype=bool)
    allowed[rng.choice(len(both), 2_000, replace=False)] = True  # a source filter, say
    for mask in (None, allowed):
        ok = np.flatnonzero(live if mask is None else live & mask)
        for q in queries[:20]:
            got, scores = dense.search(q, 10, mask)
            expected = ok[np.argsort(-(both[ok] @ q))[:10]]
            assert set(got.tolist()) == set(expected.tolist())
            np.testing.assert_allclose(scores, both[got] @ q, atol=1e-6)


def test_segments_searched_as_one_leave_deleted_sentences_out() -> None:
    """Two segments' rows numbered one after the other; the best of both, exact scores; a
    deleted sentence is never found, however close."""
    rng = np.random.default_rng(5)
    data = clustered_unit_vectors(rng, 2_040)
    first, second, queries = data[:1_200], data[1_200:2_000], data[2_000:]
    both = np.vstack([first, second])
    live = np.ones(len(both), dtype=bool)
    live[::5] = False
    dense = DenseSet([DenseIndex.build(first), DenseIndex.build(second)], live)
    assert len(dense) == 2_000
    for q in queries:
        got, scores = dense.search(q, 10)
        ok = np.flatnonzero(live)
        expected = ok[np.argsort(-(both[ok] @ q))[:10]]
        assert set(got.tolist()) == set(expected.tolist())
        np.testing.assert_allclose(scores, both[got] @ q, atol=1e-6)
    np.testing.assert_array_equal(dense.vectors(np.array([3, 1_500, 7])), both[[3, 1_500, 7]])


def _bm25_by_hand(chunks: list[list[str]], live: np.ndarray, terms: list[str],
                  ideal: float) -> np.ndarray:
    """Lucene's BM25 of each chunk over `ideal`, clipped to 1, counted over the live chunks."""
    alive = [c for c, ok in zip(chunks, live, strict=True) if ok]
    avgdl = sum(map(len, alive)) / len(alive)
    out = np.zeros(len(chunks))
    for i, chunk in enumerate(chunks):
        if not live[i]:
            continue
        for t in dict.fromkeys(terms):
            df = sum(t in c for c in alive)
            tf = chunk.count(t)
            if df and tf:
                idf = np.log(1 + (len(alive) - df + 0.5) / (df + 0.5))
                out[i] += idf * tf * (1 + K1) / (tf + K1 * (1 - B + B * len(chunk) / avgdl))
    return np.minimum(out / ideal, 1.0)


@pytest.fixture(params=["numpy", "compiled"])
def bm25_pass(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a segment's postings are summed: numpy's passes (small segments) and the
    compiled one (large segments, here made to take every segment)."""
    monkeypatch.setattr(lexical_module, "COMPILED_FROM", 0 if request.param == "compiled"
                        else 10**12)
    return str(request.param)


def test_bm25_finds_the_best_chunks_of_every_segment_as_a_full_scoring_does(
        bm25_pass: str) -> None:
    """The best chunks come from postings, not from scoring every chunk: checked against BM25
    worked out by hand for every chunk, over three segments with deletions, frequent and rare
    terms, and with a filter; any chunk's score is given on demand."""
    rng = np.random.default_rng(12)
    words = [f"w{i}" for i in range(60)]
    weights = 1.0 / np.arange(1, 61)  # a few words in most chunks, most in few
    chunks = [list(rng.choice(words, size=rng.integers(3, 30), p=weights / weights.sum()))
              for _ in range(900)]
    parts = [LexicalIndex.build(chunks[a:b]) for a, b in ((0, 400), (400, 750), (750, 900))]
    live = np.ones(len(chunks), dtype=bool)
    live[rng.choice(len(chunks), 90, replace=False)] = False
    lexical = LexicalSet(parts, live)
    allowed = rng.random(len(chunks)) < 0.3
    for terms in (["w0", "w1", "w7", "w33"], ["w2", "w40"], ["w0", "w1", "w2", "w3", "w4"],
                  ["w59", "absent"]):
        ideal = 5.0
        expected = _bm25_by_hand(chunks, live, terms, ideal)
        for mask in (None, allowed):
            hits = lexical.search(terms, ideal, 20, mask)
            ok = np.flatnonzero((expected > 0) & (True if mask is None else mask))
            best = ok[np.lexsort((ok, -expected[ok]))][:20]
            np.testing.assert_allclose(hits.scores(hits.top), expected[hits.top], rtol=1e-5)
            # Equal scores may come in either order: compare the scores, then the sets above
            # the last score.
            np.testing.assert_allclose(expected[hits.top], expected[best], rtol=1e-5)
            floor = expected[best[-1]] * (1 + 1e-5) if len(best) else 0.0
            assert ({c for c in hits.top.tolist() if expected[c] > floor}
                    == {c for c in best.tolist() if expected[c] > floor})
        anywhere = rng.choice(len(chunks), 50, replace=False)
        np.testing.assert_allclose(lexical.search(terms, ideal, 20).scores(anywhere),
                                   expected[anywhere], rtol=1e-5, atol=1e-7)


def test_the_largest_postings_are_found_whatever_their_spread() -> None:
    """The threshold read off a sample is a shortcut: ties, a sample that holds all the
    largest values or none of them, still give the m largest, and every value equal to the
    m-th."""
    rng = np.random.default_rng(3)
    m = 40
    spread = rng.random(5_000)
    ties = np.repeat(rng.random(50), 100)
    stride = 5_000 // (8 * m)  # the sample's
    seen = np.zeros(5_000)
    seen[::stride][:m] = 1.0  # every one in the sample
    hidden = np.zeros(5_000)
    hidden[1::stride][:m] = 1.0  # none in it
    few = spread / 2
    few[::stride][:5] = 1.0  # fewer than m above the sample's threshold
    for values in (spread, ties, seen, hidden, few, np.sort(spread), np.sort(spread)[::-1]):
        got = _largest(values, m)
        mth = np.sort(values)[-m]
        assert sorted(got.tolist()) == np.flatnonzero(values >= mth).tolist()


def _bm25_every_chunk(lexical: LexicalSet, terms: list[str], ideal: float) -> np.ndarray:
    """BM25 as qabot computed it before picking the best among postings: every chunk scored,
    segment by segment (float32 terms, float64 sums), scaled and clipped."""
    out = np.zeros(len(lexical), dtype=np.float32)
    unique = [t for t in dict.fromkeys(terms) if lexical.df(t)]
    for part, start in zip(lexical.parts, lexical.starts[:-1], strict=False):
        found = [(*part.postings(t), lexical.idf(t)) for t in unique]
        found = [f for f in found if len(f[0])]
        if not found:
            continue
        rows = np.concatenate([r for r, _, _ in found]).astype(np.int64)
        tf = np.concatenate([f for _, f, _ in found]).astype(np.float32)
        idf = np.repeat(np.array([w for _, _, w in found], dtype=np.float32),
                        [len(r) for r, _, _ in found])
        score = idf * tf / (tf + lexical._norm[rows + start])
        out[start:start + len(part)] += np.bincount(rows, weights=score,
                                                    minlength=len(part)).astype(np.float32)
    if lexical.live is not None:
        out[~lexical.live] = 0.0
    out *= np.float32((1 + K1) / ideal)
    return np.minimum(out, np.float32(1.0), out=out)


def test_bm25_scores_are_those_of_every_chunk_scored_to_the_bit(bm25_pass: str) -> None:
    """Picking the best among postings changes no score, nor does the compiled pass: the same
    bits as scoring every chunk of every segment (an empty segment among them), so no answer
    moves. The best chunks are those of that scoring, deleted and filtered chunks left out."""
    rng = np.random.default_rng(13)
    words = [f"w{i}" for i in range(40)]
    weights = 1.0 / np.arange(1, 41)
    chunks = [list(rng.choice(words, size=rng.integers(2, 40), p=weights / weights.sum()))
              for _ in range(600)]
    parts = [LexicalIndex.build(chunks[:250]), LexicalIndex.build([]),
             LexicalIndex.build(chunks[250:])]
    live = rng.random(len(chunks)) > 0.1
    lexical = LexicalSet(parts, live)
    every = np.arange(len(chunks))
    allowed = rng.random(len(chunks)) < 0.5
    for terms in (["w0", "w3", "w9", "w30"], ["w1", "w1", "w2"], ["w39"], ["w5", "w0"]):
        reference = _bm25_every_chunk(lexical, terms, 6.0)
        for mask in (None, allowed):
            hits = lexical.search(terms, 6.0, 30, mask)
            np.testing.assert_array_equal(hits.scores(every), reference)
            ok = np.flatnonzero((reference > 0) & (True if mask is None else mask))
            assert hits.top.tolist() == ok[np.lexsort((ok, -reference[ok]))][:30].tolist()
    assert len(lexical.search(["w0"], 6.0, 0).top) == 0
    for outside in (len(chunks), -1):  # (the compiled pass would read past its arrays)
        with pytest.raises(IndexError):
            lexical.search(["w0"], 6.0, 5).scores([outside])


def test_bm25_from_several_threads_at_once_as_from_one(bm25_pass: str) -> None:
    """Each thread sums postings in its own scratch array (the compiled pass): questions
    asked from four threads at once get the answers they get one at a time."""
    rng = np.random.default_rng(14)
    words = [f"w{i}" for i in range(50)]
    weights = 1.0 / np.arange(1, 51)
    chunks = [list(rng.choice(words, size=rng.integers(2, 30), p=weights / weights.sum()))
              for _ in range(2_000)]
    lexical = LexicalSet([LexicalIndex.build(chunks[:1_200]), LexicalIndex.build(chunks[1_200:])],
                         rng.random(len(chunks)) > 0.05)
    asks = [(list(rng.choice(words, size=rng.integers(1, 6))), rng.random(len(chunks)) < 0.5
             if i % 3 == 0 else None) for i in range(200)]
    probe = rng.choice(len(chunks), 40, replace=False)

    def ask(terms: list[str], mask: np.ndarray | None) -> tuple[list[int], list[float]]:
        hits = lexical.search(terms, 4.0, 25, mask)
        return hits.top.tolist(), hits.scores(probe).tolist()

    alone = [ask(*a) for a in asks]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda a: ask(*a), asks))
    assert together == alone


def test_warm_up_compiles_what_questions_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """`prepare` (run by `warm_up`) compiles the passes for the very types questions pass
    them, with deletions, filters and scores asked for: the first question compiles
    nothing more."""
    monkeypatch.setattr(lexical_module, "COMPILED_FROM", 0)
    rng = np.random.default_rng(15)
    chunks = [list(rng.choice(["a", "b", "c", "d"], size=rng.integers(1, 6))) for _ in range(300)]
    lexical = LexicalSet([LexicalIndex.build(chunks[:200]), LexicalIndex.build(chunks[200:])],
                         rng.random(300) > 0.1)
    lexical.prepare()
    kernels = lexical_module._kernels()
    compiled = (len(kernels.segment_scores.signatures), len(kernels.chunk_sums.signatures))
    assert min(compiled) >= 1
    for allowed in (None, rng.random(300) < 0.5):
        hits = lexical.search(["a", "c"], 2.0, 10, allowed)
        hits.scores(np.arange(300))
        hits.scores([3, 250])
    assert (len(kernels.segment_scores.signatures), len(kernels.chunk_sums.signatures)) == compiled


def test_bm25_answers_when_its_compiled_pass_cannot_load(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """numba refuses to load the compiled pass when it has no writable folder for its cache:
    a warning, once, and numpy's passes give the same scores."""
    monkeypatch.setattr(lexical_module, "COMPILED_FROM", 0)
    rng = np.random.default_rng(16)
    words = [f"w{i}" for i in range(20)]
    chunks = [list(rng.choice(words, size=rng.integers(1, 12))) for _ in range(400)]
    lexical = LexicalSet([LexicalIndex.build(chunks[:250]), LexicalIndex.build(chunks[250:])])

    def refuse(name: str) -> None:
        raise RuntimeError("cannot cache function 'segment_scores': no locator available")

    lexical_module._kernels.cache_clear()
    monkeypatch.setattr(lexical_module.importlib, "import_module", refuse)
    try:
        with caplog.at_level("WARNING", logger="qabot.index.lexical"):
            lexical.prepare()
            hits = lexical.search(["w1", "w2", "w3"], 3.0, 15)
            again = lexical.search(["w4"], 3.0, 15)
    finally:
        lexical_module._kernels.cache_clear()
    assert [r.getMessage() for r in caplog.records] == [
        ("BM25 runs without its compiled pass, more slowly: cannot cache function "
         "'segment_scores': no locator available")]
    reference = _bm25_every_chunk(lexical, ["w1", "w2", "w3"], 3.0)
    np.testing.assert_array_equal(hits.scores(np.arange(400)), reference)
    ok = np.flatnonzero(reference > 0)
    assert hits.top.tolist() == ok[np.lexsort((ok, -reference[ok]))][:15].tolist()
    assert len(again.top) == 15


def test_postings_that_point_outside_their_segment_are_refused(tmp_path: Path) -> None:
    """The compiled pass reads and writes where the postings point, unchecked: a damaged
    postings file (a chunk the segment lacks, term offsets out of order) is refused when the
    segment is read, saying what to do."""
    LexicalIndex.build([["a", "b"], ["b"], ["c", "a"]]).save(tmp_path)
    good = {name: np.load(tmp_path / name) for name in ("chunks.npy", "indptr.npy")}
    for name, damage in (("chunks.npy", lambda a: a.__setitem__(-1, 3)),
                         ("chunks.npy", lambda a: a.__setitem__(0, -1)),
                         ("indptr.npy", lambda a: a.__setitem__(1, a[2] + 1))):
        array = good[name].copy()
        damage(array)
        np.save(tmp_path / name, array)
        with pytest.raises(IndexCorruptError, match="qabot index --rebuild"):
            LexicalIndex.load(tmp_path)
        np.save(tmp_path / name, good[name])
    assert len(LexicalIndex.load(tmp_path)) == 3


def test_bm25_ranks_equal_scores_oldest_chunk_first(bm25_pass: str) -> None:
    """Chunks clipped to the same score of 1 rank by age, not by what BM25 gave above the clip
    (the fused score only sees the clipped one) nor by how the postings were partitioned."""
    chunks = [["rare", "word"] for _ in range(300)]
    chunks[5] = ["rare", "rare", "rare", "word"]  # more BM25, clipped to 1 all the same
    chunks += [["other"] for _ in range(300)]
    lexical = LexicalSet([LexicalIndex.build(chunks[:350]), LexicalIndex.build(chunks[350:])])
    hits = lexical.search(["rare", "word"], 0.5, 20)
    assert hits.top.tolist() == list(range(20))
    assert hits.scores(hits.top).tolist() == [1.0] * 20


def _quote_sentences_by_hand(index: Any, chunk: Any, near: int, chars: int,
                             paragraphs: bool = True) -> list[Any]:
    """What a quote of `chunk` may hold or border, worked out from the whole document."""
    every = {s.sentence.ordinal: s.sentence
             for s in index.store.document_sentences(chunk.doc_id)}
    span = [o for o in range(chunk.first - near, chunk.last + near + 1) if o in every]
    before = [o for o in span if every[o].start < chunk.start - chars]
    after = [o for o in span if every[o].end > chunk.end + chars]
    lo = max(before) if before else chunk.first - near
    hi = min(after) if after else chunk.last + near
    paras = range(every[chunk.first].para, every[chunk.last].para + 1)
    return [every[o] for o in span
            if lo <= o <= hi and (not paragraphs or every[o].para in paras)]


def test_sentences_around_many_chunks_are_read_as_around_each(
        shipped_settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The quotes' sentences are read for all a question's chunks at once (one query a
    segment, in batches past SQLite's bound on parameters, here made 2): the same as chunk by
    chunk, and as worked out from the whole document, whatever the chunks' order or
    repeats."""
    monkeypatch.setattr(store_module, "_WINDOWS_A_QUERY", 2)
    index = open_index(shipped_settings)  # type: ignore[arg-type]
    ids = list(range(len(index.spans.first)))
    assert len(ids) > 2
    many = (ids * 400)[::-1][:2_100]
    one_by_one = {c: index.store.quote_sentences([c], 2, 100)[c] for c in ids}
    found = index.store.quote_sentences(many, 2, 100)
    assert found.keys() == set(ids)
    for c in ids:
        chunk, sentences = found[c]
        assert chunk == one_by_one[c][0]
        # The chunk's own row: its sentences as the index's chunk table has them.
        every = {s.sentence.ordinal: s.sentence
                 for s in index.store.document_sentences(chunk.doc_id)}
        assert chunk.id == c
        assert chunk.last - chunk.first == index.spans.last[c] - index.spans.first[c]
        assert (chunk.start, chunk.end) == (every[chunk.first].start, every[chunk.last].end)
        assert [(s.sentence, s.search_terms) for s in sentences] == [
            (s.sentence, s.search_terms) for s in one_by_one[c][1]]
        assert [s.sentence for s in sentences] == _quote_sentences_by_hand(index, chunk, 2, 100)
    assert index.store.quote_sentences([len(ids) + 5], 2, 100) == {}


def test_sentences_around_a_chunk_stay_in_its_paragraphs(shipped_settings: object) -> None:
    """A quote stays in the paragraph of its best sentence, one of its chunk's: the sentences
    read around a chunk are those of the chunk's paragraphs, no others, and all of those
    within the sentences and characters a quote may reach."""
    index = open_index(shipped_settings)  # type: ignore[arg-type]
    ids = list(range(len(index.spans.first)))
    found = index.store.quote_sentences(ids, 12, 900)
    fewer = 0
    for c in ids:
        chunk, sentences = found[c]
        assert [s.sentence for s in sentences] == _quote_sentences_by_hand(index, chunk, 12, 900)
        assert {s.sentence.ordinal for s in sentences} >= set(range(chunk.first, chunk.last + 1))
        fewer += len(sentences) < len(_quote_sentences_by_hand(index, chunk, 12, 900,
                                                               paragraphs=False))
    assert fewer  # the article has several paragraphs: some chunks' windows crossed them
