"""Indexing: corpus -> sentences -> chunks -> vectors and terms -> a new index generation.

Updates are incremental: documents whose id and content hash are unchanged stay where they
are, in the live generation's segments; new and changed documents are split, analyzed,
embedded and written into one new segment; changed and removed ones become tombstones. A merge
policy folds the newest segments into the new one as they grow (see `merge_from`), so an
update costs the size of what changed, plus now and then a merge. Scores do not depend on how
the corpus is split into segments (BM25's statistics are counted over the whole generation),
so the result answers as a full rebuild does, and the previous generation stays usable until
the switch. What an update writes is cut into segments of at most about SEGMENT_SENTENCES
sentences, each prepared, embedded and written in turn: a build holds one segment's worth of
work in memory, not the whole archive's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from qabot.config import Settings
from qabot.embedding.encoder import Embedder, embedder_for
from qabot.errors import CorpusError, QabotError
from qabot.index.catalog import Catalog, Part
from qabot.index.dense import DenseIndex, DenseSet
from qabot.index.generations import (
    CALIBRATION,
    DENSE,
    FILES,
    FORMAT_VERSION,
    GEN_META,
    LEXICAL,
    STORE,
    STORIES,
    TOMBSTONES,
    new_building_dir,
    publish,
    seal_segment,
    segment_dir,
    verify_segment,
    writer_lock,
)
from qabot.index.lexical import LexicalIndex
from qabot.index.open import LiveGeneration, open_for_update
from qabot.index.store import Store, StoryFacts
from qabot.ingest import analyze as analysis
from qabot.ingest import chunk as chunker
from qabot.ingest import sentences as splitter
from qabot.ingest.analyze import Analyzer
from qabot.ingest.chunk import chunk_document
from qabot.ingest.duplicates import Grouper, band_keys
from qabot.ingest.load import LoadReport, load_corpus
from qabot.ingest.sentences import split_sentences
from qabot.records import Chunk, Document, Sentence
from qabot.search.abstain import Reference, embed_reference, reference_key

__all__ = ["IndexSummary", "PreparedDoc", "build_index", "merge_from", "prepare",
           "write_generation"]

#: A segment is folded into the next update's new one once the segments after it and the
#: update's own sentences together hold at least 1 / MERGE_RATIO of its live sentences: segment
#: sizes shrink about fivefold from the oldest to the newest, so a corpus of N sentences has
#: about log5(N) segments and each sentence is rewritten about as many times over its life.
MERGE_RATIO = 4
#: A segment with this share of its documents deleted is rewritten at the next update.
DEAD_SHARE = 1 / 3
#: A segment holds about this many sentences at most: a build or a merge writing more starts
#: another. Writing one takes ~11 KB of memory a sentence (terms, chunks, vectors, postings,
#: the dense index's training), so this bounds a build near 11 GB on any archive; a segment at
#: least half this size is full, and the merge policy leaves it be (rewriting a million
#: sentences to fold in a few thousand would make updates slow, for no fewer searches).
SEGMENT_SENTENCES = 1_000_000
#: Threads that build a segment's dense index (k-means, list assignment): this machine's two
#: cores (a question uses one).
BUILD_THREADS = 2

log = logging.getLogger(__name__)


@dataclass
class IndexSummary:
    """What an index update did, for the CLI and the bot to report."""

    documents: int
    chunks: int
    warnings: list[str]
    seconds: float
    added: int = 0
    updated: int = 0
    removed: int = 0
    embedded: int = 0
    up_to_date: bool = False
    path: Path | None = None
    regrouped: bool = False  # stories grouped again at a new duplicate threshold
    merged: int = 0  # segments folded into the new one
    segments: int = 0  # segments of the new generation


@dataclass
class PreparedDoc:
    """A document ready to write: its sentences and their BM25 terms, its chunks with theirs,
    and (once embedded, or reused) one vector per sentence."""

    doc: Document
    sentences: list[Sentence]
    terms: list[list[str]]
    chunks: list[Chunk]
    chunk_terms: list[list[str]]
    vectors: np.ndarray | None = None
    passages: list[str] = field(default_factory=list)
    #: Its story (see `ingest/duplicates`); placed before writing.
    story: StoryFacts | None = None


def config_fingerprint(settings: Settings) -> str:
    """Changes whenever stored chunks and vectors can no longer be reused."""
    shape = [FORMAT_VERSION, settings.embedding_model, settings.prompts[1],
             settings.chunk_words, settings.chunk_overlap, splitter.SPLITTER_VERSION,
             analysis.ANALYZER_VERSION, chunker.CHUNKER_VERSION]
    return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def prepare(doc: Document, settings: Settings,
            sentences: list[Sentence] | None = None) -> PreparedDoc | None:
    """Split (unless `sentences` are given), analyze and chunk one document (not embedded
    yet); None if it has no text.

    The model embeds sentences, not chunks: a sentence's vector is sharp where a chunk's blurs
    several topics (PIAF dev, chunk@1 of the dense part alone: 0.34 by chunk, 0.44 by its best
    sentence), at the same cost, since chunks hold each sentence once or twice."""
    if sentences is None:
        sentences = split_sentences(doc.text)
    if not sentences:
        return None
    analyzer = Analyzer(doc.lang)
    texts = [doc.text[s.start:s.end] for s in sentences]
    terms = [analyzer.index_terms(t) for t in texts]
    chunks = chunk_document(doc, sentences, max_words=settings.chunk_words,
                            overlap=settings.chunk_overlap)
    return PreparedDoc(doc, sentences, terms, chunks, _chunk_terms(doc, chunks, terms),
                       passages=texts)


def _reuse(doc_id: str, live: LiveGeneration) -> PreparedDoc:
    """An unchanged document, read back from the live generation with its vectors."""
    doc = live.store.document(doc_id)
    stored = live.store.document_sentences(doc_id)
    sentences = [s.sentence for s in stored]
    terms = [list(s.search_terms) for s in stored]
    chunks = live.store.document_chunks(doc)
    vectors = live.vectors(doc_id, len(sentences))
    return PreparedDoc(doc, sentences, terms, chunks, _chunk_terms(doc, chunks, terms), vectors)


def _chunk_terms(doc: Document, chunks: list[Chunk], terms: list[list[str]]) -> list[list[str]]:
    """BM25 terms of each chunk: its article's title, then its sentences' terms."""
    title = Analyzer(doc.lang).index_terms(doc.title)
    return [title + [t for s in range(c.first, c.last + 1) for t in terms[s]] for c in chunks]


def build_index(settings: Settings, *, rebuild: bool = False, progress: bool = False,
                embedder: Embedder | None = None,
                on_warning: Callable[[str], None] | None = None) -> IndexSummary:
    """Bring the index up to date with the corpus: incremental unless `rebuild`."""
    started = time.perf_counter()
    with writer_lock(settings.index_dir):
        live = None if rebuild else _live_index(settings)
        try:
            # Files unchanged since the live generation read them (same size and time) are
            # not read again: their articles are the index's (an update of a large corpus
            # would otherwise parse and hash every article).
            regroup = live is not None and _regroup(settings, live)
            report = load_corpus(settings.corpus_dir,
                                 known=live.files if live and not regroup else None)
            for warning in report.warnings:
                if on_warning:
                    on_warning(warning)
                else:
                    log.warning("%s", warning)
            if not report.documents and not report.kept:
                raise CorpusError(
                    f"no articles to index in {settings.corpus_dir} ({report.files} files, "
                    f"{report.skipped} skipped): add .txt, .md, .html or .jsonl files")
            return _update(settings, report, live, embedder, progress, started)
        finally:
            if live is not None:
                live.store.close()


def _regroup(settings: Settings, live: LiveGeneration) -> bool:
    """Stories were grouped at another threshold: group again (nothing is re-embedded)."""
    return bool(live.meta.get("duplicate_threshold") != settings.duplicate_threshold)


def _update(settings: Settings, report: LoadReport, live: LiveGeneration | None,
            embedder: Embedder | None, progress: bool, started: float) -> IndexSummary:
    """Keep what is unchanged where it is in `live`, embed the rest into a new segment (with
    the segments the merge policy folds in), publish a new generation."""
    # Only the articles read are compared by content: those of files not read are as they
    # were (an update adding one article to millions reads one article's hash, not all).
    known = live.store.live_ids() if live else set()
    hashes = live.store.content_hashes([d.id for d in report.documents]) if live else {}
    current = {d.id for d in report.documents}
    current.update(i for ids in report.kept.values() for i in ids if i in known)
    added = [d for d in report.documents if d.id not in known]
    updated = [d for d in report.documents if d.id in known and hashes[d.id] != d.content_hash]
    removed = [i for i in known if i not in current]
    calibrated = live is not None and live.reference.texts_id == reference_key(*settings.prompts)
    regroup = live is not None and _regroup(settings, live)
    if live is not None and calibrated and not (added or updated or removed or regroup):
        # (A file touched but holding the same articles is read again next time.)
        return IndexSummary(int(live.meta["documents"]), int(live.meta["chunks"]),
                            report.warnings, time.perf_counter() - started,
                            up_to_date=True, path=live.path, segments=len(live.segments))
    facts = _KnownStories(live.store if live else None, everything=regroup)
    fresh = {d.id for d in added + updated}
    # A copy whose original changed or went is indexed in its own right now.
    copies = ({i for i in live.store.copies_of([d.id for d in updated] + removed)
               if i in current} if live else set())
    fresh |= copies
    parsed = {d.id: d for d in report.documents}
    for i in copies - set(parsed):
        assert live is not None
        parsed[i] = live.store.document(i)  # from a file not read again
    stories, aliases = _place_stories(settings, list(parsed.values()), current, fresh,
                                      facts, live, regroup=regroup)
    # Documents that leave the segment they are in: changed, removed, indexed anew.
    tombstones = {name: set(ids) for name, ids in live.tombstones.items()} if live else {}
    for doc_id in known:
        if doc_id in fresh or doc_id not in current:
            assert live is not None
            tombstones.setdefault(live.store.home(doc_id), set()).add(doc_id)
    # Split now: the merge policy weighs the update's sentences. The rest (terms, chunks,
    # vectors) is done a segment at a time, below.
    split = {doc.id: split_sentences(doc.text) for doc in parsed.values()
             if doc.id in fresh and not stories[doc.id].duplicate_of}
    segments = list(live.segments) if live else []
    parts = live.store.parts if live else []
    start = 0 if regroup else merge_from(
        [int(s["sentences"]) for s in segments],
        [p.store.sentence_count(tombstones.get(p.name, ())) for p in parts],
        [int(s["documents"]) for s in segments],
        [len(tombstones.get(s["name"], ())) for s in segments],
        sum(map(len, split.values())))
    kept, folded = segments[:start], segments[start:]
    if not kept and not folded and not any(split.values()):
        # (Before the model loads: nothing would be written.)
        raise CorpusError(f"no text to index in {settings.corpus_dir}")
    for seg in folded:
        # What is copied forward is checked to the last byte first.
        verify_segment(settings.index_dir, seg["name"], checksums=True)

    def items() -> Iterator[PreparedDoc]:
        """What the new segments hold, in order: the folded segments' live documents (their
        vectors reused), then the new and changed ones."""
        for part in parts[start:]:
            assert live is not None
            copied = [i for i in part.store.document_ids()
                      if i not in tombstones.get(part.name, ())]
            facts.load(copied)
            for doc_id in copied:
                item = _reuse(doc_id, live)
                item.story = stories[doc_id]
                yield item
        for doc in parsed.values():
            if doc.id in fresh:
                story = stories[doc.id]
                new = (PreparedDoc(doc, [], [], [], []) if story.duplicate_of
                       else prepare(doc, settings, split.pop(doc.id)))
                if new is not None:
                    new.story = story
                    yield new

    if live is not None and calibrated:
        reference = live.reference
    else:
        embedder = embedder or embedder_for(settings)
        reference = embed_reference(embedder)
    # A segment sealed here belongs to no generation until the one below is published: if
    # this process dies first, the next writer removes it (see `generations`).
    written: list[dict[str, Any]] = []
    embedded = 0
    for batch in _segments_of(items()):
        todo = [p for p in batch if p.vectors is None]
        if any(p.passages for p in todo):
            embedder = embedder or embedder_for(settings)
            embedded += _embed(embedder, todo, progress=progress)
        name, counts = write_segment(settings, batch, reference.dimension)
        written.append({"name": name, **counts})
        del batch, todo  # one segment's work in memory at a time
    if not written and not kept:
        raise CorpusError(f"no text to index in {settings.corpus_dir}")
    names = {s["name"] for s in kept}
    gone = {i for ids in tombstones.values() for i in ids}
    tombstones = {name: ids for name, ids in tombstones.items() if ids and name in names}
    path, meta = write_generation(settings, [], reference, live=live, kept=kept,
                                  written=written, tombstones=tombstones,
                                  aliases={} if regroup else aliases,
                                  files=report.stamps, read_at=report.read_at, gone=gone)
    return IndexSummary(
        int(meta["documents"]), int(meta["chunks"]), report.warnings,
        time.perf_counter() - started, added=len(added), updated=len(updated),
        removed=len(removed), embedded=embedded, path=path, regrouped=regroup,
        merged=len(folded), segments=len(meta["segments"]))


def _embed(embedder: Embedder, todo: list[PreparedDoc], *, progress: bool) -> int:
    """Give `todo` their vectors (rows of one array); how many sentences that embedded."""
    passages = [text for p in todo for text in p.passages]
    vectors = embed_passages(embedder, passages, progress=progress)
    at = 0
    for p in todo:
        p.vectors, at = vectors[at:at + len(p.passages)], at + len(p.passages)
    return len(passages)


def _segments_of(items: Iterator[PreparedDoc]) -> Iterator[list[PreparedDoc]]:
    """`items` in runs of about SEGMENT_SENTENCES sentences, the last one shorter."""
    batch: list[PreparedDoc] = []
    size = 0
    for item in items:
        batch.append(item)
        size += len(item.sentences)
        if size >= SEGMENT_SENTENCES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def merge_from(sizes: Sequence[int], dead: Sequence[int], docs: Sequence[int],
               dead_docs: Sequence[int], incoming: int) -> int:
    """The first of the live segments (oldest first, `sizes` in sentences, `dead` of them
    deleted; `docs` and `dead_docs` in documents) to fold into an update bringing `incoming`
    sentences: the oldest one whose live sentences are at most MERGE_RATIO times those of the
    segments after it and the update together, or with DEAD_SHARE of its documents deleted;
    len(sizes) when none is. A full segment (half of SEGMENT_SENTENCES) is folded only for its
    own deleted documents, and the segments before it not at all: folding is of the newest
    segments, so folding one of those would rewrite the full ones too (a million sentences
    each). Their deleted documents stay tombstones."""
    first = len(sizes)
    newer = incoming
    full_after = False  # a full segment is newer than this one
    for i in range(len(sizes) - 1, -1, -1):
        alive = sizes[i] - dead[i]
        full = 2 * alive >= SEGMENT_SENTENCES
        by_size = alive <= MERGE_RATIO * newer and not full
        by_deletions = bool(docs[i]) and dead_docs[i] >= DEAD_SHARE * docs[i]
        if (by_size or by_deletions) and not full_after:
            first = i
        full_after = full_after or full
        newer += alive
    return first


class _KnownStories:
    """The story facts of the documents an update keeps, read from the live store when first
    asked for: an update adding one article to millions reads those its band keys meet and
    those a merge copies, not every signature. With `everything` (a regrouping), all at once."""

    def __init__(self, store: Catalog | None, *, everything: bool = False) -> None:
        self._store = store
        self._facts: dict[str, StoryFacts] = (
            store.story_facts() if store is not None and everything else {})

    def load(self, ids: Sequence[str]) -> None:
        missing = [i for i in ids if i not in self._facts]
        if missing and self._store is not None:
            self._facts.update(self._store.story_facts(missing))

    def get(self, doc_id: str) -> StoryFacts | None:
        self.load([doc_id])
        return self._facts.get(doc_id)

    def __getitem__(self, doc_id: str) -> StoryFacts:
        found = self.get(doc_id)
        if found is None:
            raise KeyError(doc_id)
        return found


class _Stories:
    """Every document's story once an update placed the new ones: those placed, and the kept
    ones as stored, under their stories' current names (a new article may have joined two)."""

    def __init__(self, placed: dict[str, StoryFacts], kept: _KnownStories,
                 story: Callable[[str], str]) -> None:
        self._placed, self._kept, self._story = placed, kept, story

    def __getitem__(self, doc_id: str) -> StoryFacts:
        f = self._placed[doc_id] if doc_id in self._placed else self._kept[doc_id]
        return StoryFacts(self._story(f.story), f.duplicate_of, f.signature)


def _place_stories(settings: Settings, documents: list[Document], current: set[str],
                   fresh: set[str], facts: _KnownStories, live: LiveGeneration | None, *,
                   regroup: bool = False) -> tuple[_Stories, dict[str, str]]:
    """Every document's story: unchanged documents keep theirs; each new one is looked up by
    its band keys among those already placed, oldest first, and joins the story it repeats.
    With `regroup`, every document is placed again (exact copies stay copies of the same
    original: that does not depend on the threshold). Also the stories renamed since the
    segments were written: an article that bridges two stories makes them one."""
    by_id = {d.id: d for d in documents}  # those read: new, changed, or all (regroup)
    kept = set() if regroup else {i for i in current if i not in fresh}
    placed: dict[str, StoryFacts] = {}  # the documents placed here (the kept are in `facts`)
    bodies: dict[str, str] = {}  # exact text -> the new document indexed with it

    def lookup(band: int, key: bytes) -> list[str]:
        return [i for i in live.store.band_members(band, key) if i in kept] if live else []

    def exact(body: str) -> str | None:
        if body in bodies:
            return bodies[body]
        found = [i for i in live.store.same_body(body) if i in kept] if live else []
        return found[0] if found else None

    grouper = Grouper(settings.duplicate_threshold, lookup=lookup,
                      text_of=lambda i: by_id[i].text if i in by_id else (
                          live.store.document(i).text if live else ""), exact=exact,
                      story_of=lambda i: (placed[i] if i in placed else facts[i]).story)
    copies: dict[str, str] = {}  # regrouped copy -> its original
    for doc in sorted((by_id[i] for i in by_id if i not in kept),
                      key=lambda d: (d.published or "~", d.id)):
        reused = facts.get(doc.id) if doc.id not in fresh else None
        if reused is not None and reused.duplicate_of is not None:
            copies[doc.id] = reused.duplicate_of
            continue
        look = grouper.place(doc.id, doc.text, doc.body_key,
                             f"{doc.id}@{doc.content_hash[:12]}", may_copy=reused is None)
        placed[doc.id] = StoryFacts(look.story, look.duplicate_of, look.signature)
        if look.duplicate_of is None:
            bodies.setdefault(doc.body_key, doc.id)
    for copy, original in copies.items():
        placed[copy] = replace(facts[copy], story=placed[original].story)
    aliases = {**(live.aliases if live else {}), **grouper.merges}
    return _Stories(placed, facts, grouper.story), aliases


def _live_index(settings: Settings) -> LiveGeneration | None:
    """The live generation when its chunks and vectors can be reused, else None (rebuild)."""
    try:
        # Sizes only: what stays in place was checked when written; what a merge copies
        # forward is checked to the last byte before it is (see `_update`).
        live = open_for_update(settings)
    except QabotError as exc:
        log.info("rebuilding the index: %s", exc)
        return None
    if live is None:
        return None
    if live.meta.get("config") != config_fingerprint(settings):
        log.info("settings that shape the index changed: rebuilding it")
        live.store.close()
        return None
    return live


def embed_passages(embedder: Embedder, passages: list[str], *, progress: bool) -> np.ndarray:
    """Embed in slices so the progress bar moves. Passages are sorted by length across all
    slices first, as `encode` sorts one call's: batches of like lengths waste no padding (a
    slice-by-slice sort made indexing 20 % slower on sentences of mixed length)."""
    from tqdm import tqdm

    order = sorted(range(len(passages)), key=lambda i: -len(passages[i]))
    step = embedder.batch_size * 8
    # Each slice goes to its rows of one array: millions of vectors are held once, not as
    # slices, then stacked, then reordered (three copies: 14 GB at 3M sentences).
    vectors: np.ndarray | None = None
    with tqdm(total=len(passages), unit="sentence", desc="Embedding", disable=not progress,
              leave=False) as bar:
        for i in range(0, len(order), step):
            rows = order[i:i + step]
            got = embedder.encode_passages([passages[j] for j in rows])
            if vectors is None:
                vectors = np.empty((len(passages), got.shape[1]), dtype=np.float32)
            vectors[rows] = got
            bar.update(len(rows))
            log.debug("embedded %d of %d sentences", min(i + step, len(order)), len(order))
    return vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)


def write_generation(settings: Settings, prepared: list[PreparedDoc], reference: Reference, *,
                     live: LiveGeneration | None = None, kept: Sequence[dict[str, Any]] = (),
                     written: Sequence[dict[str, Any]] = (),
                     tombstones: dict[str, set[str]] | None = None,
                     aliases: dict[str, str] | None = None,
                     files: dict[str, list[Any]] | None = None, read_at: int = 0,
                     gone: set[str] | None = None) -> tuple[Path, dict[str, Any]]:
    """Publish a generation of the `kept` segments of `live` (less `tombstones`, deleted
    document ids by segment), the segments this update has `written` (their manifest entries)
    and, if any, one more holding `prepared` (under `writer_lock`); its path and meta. `files`
    are the corpus files read (see `load_corpus`); `gone`, every document deleted or indexed
    anew since `live`'s segments were written."""
    tombstones = tombstones or {}
    fresh = [dict(s) for s in written]
    if prepared:
        name, counts = write_segment(settings, prepared, reference.dimension)
        fresh.append({"name": name, **counts})
    segments = [dict(s) for s in kept] + fresh
    new = [(s["name"], DenseIndex.load(segment_dir(settings.index_dir, s["name"]) / DENSE))
           for s in fresh]
    parts = live.store.parts[:len(kept)] if live else []
    dead = {p.name: tombstones.get(p.name, set()) for p in parts}
    gap, best = _calibrate(settings.index_dir, reference, live, parts, dead, gone or set(), new)
    meta = {
        "format_version": FORMAT_VERSION,
        "model": settings.embedding_model,
        "dimension": reference.dimension,
        "config": config_fingerprint(settings),
        "languages": _languages(fresh, segments[:len(kept)], parts, dead),
        "documents": sum(int(s["documents"]) for s in segments) - sum(map(len, dead.values())),
        "chunks": sum(int(s["chunks"]) for s in fresh) + sum(
            p.store.chunk_count(dead[p.name]) for p in parts),
        "sentences": sum(int(s["sentences"]) for s in fresh) + sum(
            int(s["sentences"]) - p.store.sentence_count(dead[p.name])
            for s, p in zip(kept, parts, strict=True)),
        "segments": len(segments),
        "duplicate_threshold": settings.duplicate_threshold,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "calibration": {"anchors": len(reference.anchors), "texts": reference.texts_id,
                        "null_gap": round(gap, 6), "best": best},
    }
    building = new_building_dir(settings.index_dir)
    try:
        np.save(building / CALIBRATION, reference.stacked(), allow_pickle=False)
        for file, value in ((GEN_META, meta), (STORIES, aliases or {}),
                            (TOMBSTONES, {k: sorted(v) for k, v in tombstones.items() if v}),
                            (FILES, {"files": _settled(read_at, files or {})})):
            (building / file).write_text(json.dumps(value, ensure_ascii=False, indent=1),
                                         encoding="utf-8")
        path = publish(settings.index_dir, building,
                       {"format_version": FORMAT_VERSION, "model": settings.embedding_model,
                        "dimension": reference.dimension, "segments": segments},
                       {s["name"] for s in fresh})
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return path, {**meta, "segments": segments}


def _languages(fresh: Sequence[dict[str, Any]], kept: Sequence[dict[str, Any]],
               parts: Sequence[Part], dead: dict[str, set[str]]) -> list[str]:
    """The languages of the generation's live documents: a kept segment's are its counts by
    language less its deleted documents', and the new segments' theirs. A segment's counts are
    in its entry of the generation's manifest; one written before entries held them is counted
    in its store once, and its entry in `kept` (the new generation's) gets the counts."""
    counts: dict[str, int] = {}
    for seg in fresh:
        for lang, n in seg["languages"].items():
            counts[lang] = counts.get(lang, 0) + int(n)
    for seg, part in zip(kept, parts, strict=True):
        stored = seg.get("languages")
        if not (isinstance(stored, dict) and all(isinstance(n, int) for n in stored.values())):
            stored = seg["languages"] = part.store.language_counts()
        gone = part.store.language_counts(sorted(dead[part.name])) if dead[part.name] else {}
        for lang, n in stored.items():
            counts[lang] = counts.get(lang, 0) + int(n) - gone.get(lang, 0)
    return sorted(lang for lang, n in counts.items() if n > 0)


def _settled(read_at: int, files: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The files last changed well before they were read (`read_at`, ns): one changed in the
    same clock tick as its reading could look unchanged after (git's "racy" files). The
    others are read again next time."""
    recent = read_at - 2_000_000_000
    return {rel: stamp for rel, stamp in files.items()
            if all(isinstance(t, int) and t < recent for t in stamp[1:3])}


def _calibrate(index_dir: Path, reference: Reference, live: LiveGeneration | None,
               parts: Sequence[Part], dead: dict[str, set[str]], gone: set[str],
               new: Sequence[tuple[str, DenseIndex]]) -> tuple[float, list[list[Any] | None]]:
    """Abstention's null gap (see `abstain.null_gap`) over the new generation, and each
    probe's closest sentence ([cosine, segment, row, document]) for the next update to start
    from: a kept segment only loses sentences, so a probe whose closest is still there (or was
    merged into a new segment) needs only the new segments searched; one whose closest was
    deleted (its document is in `gone`), every segment."""
    old = (live.meta["calibration"].get("best")
           if live is not None and live.reference is reference else None)
    names = {p.name: i for i, p in enumerate(parts)}
    best: list[list[Any] | None] = []
    full: DenseSet | None = None
    for i, probe in enumerate(reference.probes):
        found: list[list[Any]] = []
        for name, dense in new:
            rows, sims = dense.search(probe, 1)
            if len(rows):
                found.append([float(sims[0]), name, int(rows[0]), None])
        prev = old[i] if old is not None and i < len(old) else None
        if prev is not None and prev[1] in names and prev[3] not in dead[prev[1]]:
            found.append(prev)  # still there, and the closest of every kept segment
        elif prev is not None and prev[1] not in names and prev[3] not in gone:
            pass  # merged into a new segment with its document: found there again
        elif parts and live is not None:
            if full is None:
                full = DenseSet([live.dense(p.name) for p in parts],
                                _live_sentences(parts, dead))
            rows, sims = full.search(probe, 1)
            if len(rows):
                at = int(np.searchsorted(full.starts, rows[0], side="right")) - 1
                found.append([float(sims[0]), parts[at].name,
                              int(rows[0] - full.starts[at]), None])
        top = max(found, key=lambda f: f[0]) if found else None
        if top is not None and top[3] is None:
            if top[1] not in names:  # a new segment
                store = Store.open(segment_dir(index_dir, top[1]) / STORE)
                top[3] = store.doc_at(top[2])
                store.close()
            else:
                assert live is not None
                top[3] = live.store.doc_at(names[top[1]], top[2])
        best.append(top)
    scores = np.array([b[0] if b is not None else 0.0 for b in best], dtype=np.float32)
    gap = float(np.median(scores - reference.baseline(reference.probes)))
    return gap, best


def write_segment(settings: Settings, prepared: list[PreparedDoc],
                  dimension: int) -> tuple[str, dict[str, Any]]:
    """Write documents into a new sealed segment; its name and counts (documents, sentences,
    chunks, and documents by language). The dense index is
    built on a second thread (FAISS leaves Python's lock while it adds), beside the
    metadata store and the postings."""
    building = new_building_dir(settings.index_dir, segment=True)
    parts = [p.vectors for p in prepared if p.vectors is not None and len(p.vectors)]
    # (A segment of exact copies alone has no vectors, and still the index's dimension.)
    vectors = _stacked(parts) if parts else np.zeros((0, dimension), dtype=np.float32)
    chunks = [c for p in prepared for c in p.chunks]
    try:
        with ThreadPoolExecutor(1) as pool:
            job = pool.submit(_write_dense, vectors, building / DENSE)
            store = Store.create(building / STORE)
            first_sentence = 0
            for p in prepared:
                assert p.story is not None
                store.add_document(p.doc, p.sentences, p.terms, first_sentence, p.story,
                                   band_keys(p.story.signature))
                first_sentence += len(p.sentences)
            store.add_chunks(enumerate(chunks))
            store.commit()
            store.close()
            LexicalIndex.build([t for p in prepared for t in p.chunk_terms]).save(
                building / LEXICAL)
            job.result()
        languages: dict[str, int] = {}
        for p in prepared:
            languages[p.doc.lang] = languages.get(p.doc.lang, 0) + 1
        counts = {"documents": len(prepared), "sentences": len(vectors), "chunks": len(chunks),
                  "languages": languages}
        return seal_segment(settings.index_dir, building, counts), counts
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _stacked(parts: list[np.ndarray]) -> np.ndarray:
    """The documents' vectors as one array: a view of the array they are consecutive rows of
    when they are (those a build embedded are: no second copy of millions of vectors), else a
    copy."""
    base = parts[0]
    while isinstance(base.base, np.ndarray):
        base = base.base
    if base.ndim == 2 and base.dtype == np.float32 and base.flags.c_contiguous:
        at = parts[0].__array_interface__["data"][0]
        offset, rest = divmod(at - base.__array_interface__["data"][0], base.strides[0])
        total = sum(len(p) for p in parts)
        consecutive = rest == 0 and 0 <= offset and offset + total <= len(base)
        for p in parts:
            if not consecutive:
                break
            consecutive = (p.__array_interface__["data"][0] == at and p.dtype == base.dtype
                           and p.flags.c_contiguous and p.shape[1:] == base.shape[1:])
            at += p.nbytes
        if consecutive:
            return base[offset:offset + total]
    return np.vstack(parts).astype(np.float32, copy=False)


def _write_dense(vectors: np.ndarray, folder: Path) -> None:
    folder.mkdir()
    if len(vectors):
        DenseIndex.build(vectors, threads=BUILD_THREADS).save(folder)
    else:
        DenseIndex.empty(vectors.shape[1]).save(folder)


def _live_sentences(parts: Sequence[Part],
                    tombstones: dict[str, set[str]]) -> np.ndarray | None:
    """By sentence of `parts`, whether its document is live (None: all are)."""
    if not any(tombstones.get(p.name) for p in parts):
        return None
    return np.concatenate([p.store.live_sentences(tombstones.get(p.name, set()))
                           for p in parts])
