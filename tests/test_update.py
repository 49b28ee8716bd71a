"""Growing corpus: incremental updates, crash safety, live reload, `qabot add` and `--watch`."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from qabot.config import Settings, load_settings
from qabot.embedding.encoder import Embedder
from qabot.engine import Qabot
from qabot.errors import IndexCorruptError, IndexMismatchError
from qabot.index.generations import sha256_file
from qabot.index.open import current_generation, open_index
from qabot.index.write import SEGMENT_SENTENCES, build_index, merge_from
from qabot.ingest.analyze import Analyzer
from tests.conftest import CORPUS, clean_env, write
from tests.test_cli import run as run_cli

MALI = (CORPUS / "000_d5078016723e65e9.txt").read_text(encoding="utf-8")


def article(title: str, text: str, lang: str = "fr") -> str:
    return f"Title: {title}\nDate: 2025-08-01\nLang: {lang}\n\n{text}\n"


STORM = article("Orages à Bamako", "De violents orages ont inondé trois quartiers de Bamako dans "
                "la nuit de vendredi. Les pompiers ont secouru quarante familles.")
FLOOD = article("Crue du Niger", "Le fleuve Niger a atteint six mètres à Mopti. Les autorités "
                "ont évacué deux villages de pêcheurs.")
HARVEST = article("Récolte de coton", "La récolte de coton du Mali atteint 700 000 tonnes cette "
                  "année. Les prix payés aux producteurs restent stables.")
QUESTIONS = [
    "Combien de recrues sont arrivées au camp de Bougouni ?",
    "Quel ministre a reçu l'envoyé américain ?",
    "Combien de familles les pompiers ont-ils secourues ?",
    "Quelle hauteur le fleuve Niger a-t-il atteint à Mopti ?",
    "Quelle est la récolte de coton du Mali ?",
    "Quels villages ont été évacués ?",
]


def settings_for(root: Path) -> Settings:
    return load_settings(corpus_dir=root / "corpus", index_dir=root / "index")


def answers(settings: Settings, embedder: Embedder) -> list[list[tuple[str, str, float]]]:
    bot = Qabot(settings, open_index(settings), embedder)
    return [[(p.citation.doc_id, p.quote, round(p.score, 4)) for p in bot.ask(q, k=3).passages]
            for q in QUESTIONS]


def test_incremental_update_embeds_only_what_changed_and_equals_a_rebuild(
        tmp_path: Path, embedder: Embedder) -> None:
    inc = settings_for(tmp_path / "inc")
    write(inc.corpus_dir / "mali.txt", MALI)
    write(inc.corpus_dir / "storm.txt", STORM)
    write(inc.corpus_dir / "flood.txt", FLOOD)
    first = build_index(inc, embedder=embedder)
    assert (first.added, first.updated, first.removed) == (3, 0, 0)
    assert first.embedded == open_index(inc).meta["sentences"]  # every sentence, once

    write(inc.corpus_dir / "harvest.txt", HARVEST)  # added
    write(inc.corpus_dir / "flood.txt", FLOOD.replace("six mètres", "sept mètres"))  # changed
    (inc.corpus_dir / "storm.txt").unlink()  # removed
    second = build_index(inc, embedder=embedder)
    assert (second.added, second.updated, second.removed) == (1, 1, 1)
    assert second.embedded == 4  # the two sentences of the new and of the changed article
    assert second.documents == 3

    full = settings_for(tmp_path / "full")
    write(full.corpus_dir / "mali.txt", MALI)
    write(full.corpus_dir / "flood.txt", FLOOD.replace("six mètres", "sept mètres"))
    write(full.corpus_dir / "harvest.txt", HARVEST)
    build_index(full, embedder=embedder)

    incremental, rebuilt = answers(inc, embedder), answers(full, embedder)
    assert incremental == rebuilt
    assert any("sept mètres" in quote for _, quote, _ in incremental[3])
    assert all("pompiers" not in quote for found in incremental for _, quote, _ in found)


def test_segments_and_tombstones_answer_as_a_rebuild(tmp_path: Path,
                                                     embedder: Embedder) -> None:
    """An added article gets a segment of its own, a deleted one a tombstone; nothing else is
    rewritten, and BM25's statistics still count the whole corpus and only what is live:
    every passage and score is the rebuild's."""
    school = article("Rentrée scolaire", "Les écoles de Sikasso rouvrent lundi. Trois cents "
                     "enseignants ont été recrutés.")
    inc = settings_for(tmp_path / "inc")
    for name, text in (("mali", MALI), ("storm", STORM), ("flood", FLOOD), ("school", school)):
        write(inc.corpus_dir / f"{name}.txt", text)
    build_index(inc, embedder=embedder)
    write(inc.corpus_dir / "harvest.txt", HARVEST)
    added = build_index(inc, embedder=embedder)
    assert (added.embedded, added.segments, added.merged) == (2, 2, 0)
    (inc.corpus_dir / "storm.txt").unlink()
    removed = build_index(inc, embedder=embedder)
    assert (removed.removed, removed.embedded, removed.segments, removed.merged) == (1, 0, 2, 0)
    gen = current_generation(inc.index_dir)
    assert gen is not None
    assert list(json.loads((gen / "tombstones.json").read_text()).values()) == [["storm.txt"]]

    full = settings_for(tmp_path / "full")
    for name, text in (("mali", MALI), ("flood", FLOOD), ("harvest", HARVEST),
                       ("school", school)):
        write(full.corpus_dir / f"{name}.txt", text)
    build_index(full, embedder=embedder)
    assert answers(inc, embedder) == answers(full, embedder)
    index, rebuilt = open_index(inc), open_index(full)
    # Terms only the deleted article held, and terms of the rest: counted as the rebuild does.
    for term in Analyzer("fr").index_terms("pompiers familles Bamako fleuve écoles"):
        assert index.lexical.idf(term) == rebuilt.lexical.idf(term), term
    assert index.lexical.df(Analyzer("fr").index_terms("pompiers")[0]) == 0
    assert "storm.txt" not in {c.doc_id for c in index.store.citations()}


def test_an_update_reads_only_the_files_that_changed(tmp_path: Path, embedder: Embedder,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A file of the same size and time as when the index read it is not read again (a large
    corpus would otherwise be parsed and hashed whole on every update); a changed one is."""

    import time

    from qabot.ingest import load

    s = settings_for(tmp_path)
    for name, text in (("mali", MALI), ("storm", STORM), ("flood", FLOOD)):
        write(s.corpus_dir / f"{name}.txt", text)
    time.sleep(2.1)  # past the 2 s in which a file is not trusted to look unchanged
    build_index(s, embedder=embedder)
    read: list[str] = []
    real = load._load_path
    monkeypatch.setattr(load, "_load_path", lambda path, rel: read.append(rel) or real(path, rel))
    write(s.corpus_dir / "harvest.txt", HARVEST)
    write(s.corpus_dir / "flood.txt", FLOOD.replace("six mètres", "sept mètres"))
    summary = build_index(s, embedder=embedder)
    assert sorted(read) == ["flood.txt", "harvest.txt"]
    assert (summary.added, summary.updated, summary.removed, summary.documents) == (1, 1, 0, 4)
    read.clear()
    (s.corpus_dir / "storm.txt").unlink()
    summary = build_index(s, embedder=embedder)
    assert summary.removed == 1 and summary.documents == 3
    assert "storm.txt" not in read and "mali.txt" not in read
    bot = Qabot(s, open_index(s), embedder)
    assert "sept mètres" in bot.ask("Quelle hauteur le fleuve Niger a-t-il atteint ?").passages[
        0].quote


def test_an_update_bringing_only_an_exact_copy_still_opens(tmp_path: Path,
                                                          embedder: Embedder) -> None:
    """A segment holding only an exact copy has no vectors, and still the index's dimension."""
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    write(s.corpus_dir / "copy.txt", MALI.replace("Title:", "Title: Copie -", 1))
    summary = build_index(s, embedder=embedder)
    assert (summary.added, summary.embedded, summary.segments) == (1, 0, 2)
    bot = Qabot(s, open_index(s), embedder)
    assert "Abdoulaye Diop" in bot.ask("Quel ministre a reçu l'envoyé américain ?").passages[
        0].quote


def test_deleting_the_only_article_in_a_language_drops_the_language(
        tmp_path: Path, embedder: Embedder) -> None:
    """Whatever the segments and tombstones, the index's facts are the rebuild's: a language
    no live article has is no longer analyzed for (questions would otherwise get its terms)."""
    english = article("Storm warning", "A severe storm hit the coast of Brittany on Friday.",
                      lang="en")
    texts = {"mali": MALI, "storm": STORM, "flood": FLOOD, "harvest": HARVEST, "en": english}
    inc = settings_for(tmp_path / "inc")
    for name, text in texts.items():
        write(inc.corpus_dir / f"{name}.txt", text)
    build_index(inc, embedder=embedder)
    (inc.corpus_dir / "en.txt").unlink()
    assert build_index(inc, embedder=embedder).merged == 0  # a tombstone, not a rewrite
    full = settings_for(tmp_path / "full")
    for name, text in texts.items():
        if name != "en":
            write(full.corpus_dir / f"{name}.txt", text)
    build_index(full, embedder=embedder)
    mine, theirs = open_index(inc).meta, open_index(full).meta
    for key in ("languages", "documents", "sentences", "chunks"):
        assert mine[key] == theirs[key], key
    assert mine["languages"] == ["fr"]
    assert mine["calibration"]["null_gap"] == pytest.approx(
        theirs["calibration"]["null_gap"], abs=1e-6)


def test_languages_follow_articles_added_and_deleted_in_later_segments(
        tmp_path: Path, embedder: Embedder) -> None:
    """Each segment counts its articles by language; an update adds the new segment's and
    takes off the deleted ones', without counting every stored article again."""
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    assert open_index(s).meta["languages"] == ["fr"]
    write(s.corpus_dir / "en.txt", article(
        "Storm warning", "A severe storm hit the coast of Brittany on Friday.", lang="en"))
    build_index(s, embedder=embedder)
    index = open_index(s)
    assert index.meta["languages"] == ["en", "fr"] and len(index.segments) == 2
    write(s.corpus_dir / "storm.txt", STORM)
    (s.corpus_dir / "en.txt").unlink()
    build_index(s, embedder=embedder)
    index = open_index(s)
    assert index.meta["languages"] == ["fr"] and index.meta["documents"] == 2
    (s.corpus_dir / "mali.txt").unlink()  # a tombstone in the first segment
    write(s.corpus_dir / "en.txt", article("Storm", "A storm hit Brittany on Friday.", lang="en"))
    build_index(s, embedder=embedder)
    index = open_index(s)
    assert index.meta["languages"] == ["en", "fr"] and index.meta["documents"] == 2
    (s.corpus_dir / "storm.txt").unlink()
    build_index(s, embedder=embedder)
    assert open_index(s).meta["languages"] == ["en"]


def test_an_edit_that_keeps_size_and_modification_time_is_still_read(
        tmp_path: Path, embedder: Embedder) -> None:
    """`touch -r` or `cp -p` put the modification time back; the change time and inode tell."""
    import os
    import time

    s = settings_for(tmp_path)
    write(s.corpus_dir / "flood.txt", FLOOD)
    time.sleep(2.1)  # past the 2 s in which a file is not trusted to look unchanged
    build_index(s, embedder=embedder)
    stat = (s.corpus_dir / "flood.txt").stat()
    write(s.corpus_dir / "flood.txt", FLOOD.replace("six mètres", "dix mètres"))
    os.utime(s.corpus_dir / "flood.txt", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (s.corpus_dir / "flood.txt").stat().st_size == stat.st_size
    assert build_index(s, embedder=embedder).updated == 1


def test_the_merge_policy_folds_the_newest_segments_as_they_grow() -> None:
    # A small update beside a large segment gets its own; the small ones fold together once
    # they reach a quarter of the one before them; a third of a segment's articles deleted
    # rewrites it (and those after it).
    assert merge_from([1000], [0], [40], [0], 30) == 1
    assert merge_from([1000, 30], [0, 0], [40, 1], [0, 0], 30) == 1
    assert merge_from([1000, 200, 30], [0, 0, 0], [40, 8, 1], [0, 0, 0], 10) == 2
    assert merge_from([1000, 200, 30], [0, 0, 0], [40, 8, 1], [0, 0, 0], 30) == 0
    assert merge_from([1000, 30], [0, 0], [40, 1], [0, 0], 0) == 2  # a deletion alone
    assert merge_from([1000, 30], [400, 0], [40, 1], [14, 0], 0) == 0
    assert merge_from([], [], [], [], 30) == 0
    # A full segment (half the largest a build writes) is folded only for its deletions, and
    # nothing before it is folded by size: a small update never rewrites a million sentences.
    full = SEGMENT_SENTENCES
    assert merge_from([full, 300_000, 30], [0, 0, 0], [9, 8, 1], [0, 0, 0], 100_000) == 1
    assert merge_from([full, full // 2, 30], [0, 0, 0], [9, 8, 1], [0, 0, 0], 500_000) == 2
    assert merge_from([full, full], [0, 0], [9, 9], [0, 0], full) == 2
    assert merge_from([full, full], [0, full // 2], [9, 9], [0, 3], 10) == 1
    # An old segment with a third of its articles deleted waits: folding it would rewrite the
    # full segment after it.
    assert merge_from([full, full, 30], [400_000, 0, 0], [9, 9, 1], [3, 0, 0], 10) == 2


def test_a_build_larger_than_a_segment_writes_several_that_answer_as_one(
        tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build holds one segment's work in memory at a time (an archive of millions of
    sentences would not fit): more sentences than a segment holds make several segments, that
    answer as one; a small update then leaves the full ones alone."""
    from qabot.index import write as writer

    corpus = {"mali": MALI, "storm": STORM, "flood": FLOOD, "harvest": HARVEST}
    one = settings_for(tmp_path / "one")
    for name, text in corpus.items():
        write(one.corpus_dir / f"{name}.txt", text)
    assert build_index(one, embedder=embedder).segments == 1
    many = settings_for(tmp_path / "many")
    for name, text in corpus.items():
        write(many.corpus_dir / f"{name}.txt", text)
    monkeypatch.setattr(writer, "SEGMENT_SENTENCES", 4)
    built = build_index(many, embedder=embedder)
    gen = current_generation(many.index_dir)
    assert gen is not None
    segments = json.loads((gen / "manifest.json").read_text())["segments"]
    # flood + harvest (2 + 2), mali, storm: a segment closes once it holds 4 sentences
    assert [s["documents"] for s in segments] == [2, 1, 1]
    assert built.segments == 3 and built.embedded == open_index(many).meta["sentences"]
    assert answers(many, embedder) == answers(one, embedder)

    school = article("Rentrée scolaire", "Les écoles de Sikasso rouvrent lundi. Trois cents "
                     "enseignants ont été recrutés.")
    write(many.corpus_dir / "school.txt", school)
    added = build_index(many, embedder=embedder)
    assert (added.embedded, added.merged, added.segments) == (2, 0, 4)


def test_an_update_stopped_between_its_segments_leaves_the_index_as_it_was(
        tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the second of an update's segments is embedded: the first, sealed, is
    named by no generation; the previous one answers, and the next update removes it."""
    from qabot.index import write as writer

    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    before = current_generation(s.index_dir)
    for name, text in (("storm", STORM), ("flood", FLOOD), ("harvest", HARVEST)):
        write(s.corpus_dir / f"{name}.txt", text)
    calls: list[int] = []
    real = writer.embed_passages

    def interrupted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as patch:
        patch.setattr(writer, "SEGMENT_SENTENCES", 2)
        patch.setattr(writer, "embed_passages", interrupted)
        with pytest.raises(KeyboardInterrupt):
            build_index(s, embedder=embedder)
    assert current_generation(s.index_dir) == before
    assert len(list((s.index_dir / "segments").iterdir())) == 2  # the first new one, unnamed
    bot = Qabot(s, open_index(s), embedder)
    assert all("pompiers" not in p.quote for p in bot.ask(
        "Combien de familles les pompiers ont-ils secourues ?", k=3).passages)
    assert build_index(s, embedder=embedder).added == 3
    assert any("pompiers" in p.quote for p in Qabot(s, open_index(s), embedder).ask(
        "Combien de familles les pompiers ont-ils secourues ?", k=3).passages)
    named = {seg["name"] for g in (current_generation(s.index_dir), before)
             for seg in json.loads((g / "manifest.json").read_text())["segments"]}
    assert {p.name for p in (s.index_dir / "segments").iterdir()} == named


def test_nothing_changed_is_nothing_done(tmp_path: Path, embedder: Embedder) -> None:
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    gen = current_generation(s.index_dir)
    again = build_index(s, embedder=embedder)
    assert again.up_to_date and again.embedded == 0
    assert current_generation(s.index_dir) == gen


def test_removing_articles_needs_no_model(tmp_path: Path, embedder: Embedder) -> None:
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    write(s.corpus_dir / "storm.txt", STORM)
    build_index(s, embedder=embedder)
    (s.corpus_dir / "storm.txt").unlink()
    summary = build_index(s)  # no embedder given: none is needed to drop an article
    assert (summary.removed, summary.embedded, summary.documents) == (1, 0, 1)
    bot = Qabot(s, open_index(s), embedder)
    answer = bot.ask("Combien de familles les pompiers ont-ils secourues ?", k=5)
    assert all(p.citation.path == "mali.txt" for p in answer.passages)


def test_opening_checks_sizes_and_qabot_check_checksums(tmp_path: Path,
                                                        embedder: Embedder) -> None:
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    env = _env(s)
    ok = run_cli("check", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"Index {current_generation(s.index_dir)} is sound: ")
    assert "match their checksums; 1 document, 12 sentences" in ok.stdout
    segment = live_segment(s)
    target = segment / "lexical" / "tf.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte, same size: opening does not read every byte...
    target.write_bytes(bytes(data))
    open_index(s).store.close()
    bad = run_cli("check", env=env)  # ...`qabot check` does
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert re.match(rf"qabot: {re.escape(str(target))} is damaged \(its checksum does not "
                    r"match the manifest\); run `qabot index --rebuild`", bad.stderr)
    # `qabot index` reads sizes only (a full read of a large index on every update would cost
    # more than the update): the damage stays until the fix `qabot check` gave is run.
    assert build_index(s, embedder=embedder).up_to_date
    assert run_cli("check", env=env).returncode == 1
    assert not build_index(s, embedder=embedder, rebuild=True).up_to_date
    assert run_cli("check", env=env).returncode == 0
    assert "Abdoulaye Diop" in Qabot(s, open_index(s), embedder).ask(
        "Quel ministre a reçu l'envoyé américain ?").passages[0].quote
    # A file of another size is caught at opening.
    segment = live_segment(s)
    with open(segment / "dense" / "dense.faiss", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(IndexCorruptError, match=r"dense.faiss is damaged \(\d+ bytes, the "
                                                r"manifest says \d+\); run `qabot index"):
        open_index(s)


def test_damaged_sqlite_is_caught_by_qabot_check(tmp_path: Path, embedder: Embedder) -> None:
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    segment = live_segment(s)
    store = segment / "qabot.sqlite"
    with sqlite3.connect(store) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sentences'"
                            ).fetchone()[0]
    conn.close()
    data = bytearray(store.read_bytes())
    at = (root - 1) * page
    data[at + 8:at + page] = b"\xff" * (page - 8)  # the sentences' first page, same size
    store.write_bytes(bytes(data))
    manifest = json.loads((segment / "manifest.json").read_text())
    manifest["files"]["qabot.sqlite"]["sha256"] = sha256_file(store)  # checksums pass...
    (segment / "manifest.json").write_text(json.dumps(manifest))
    bad = run_cli("check", env=_env(s))  # ...SQLite's own check does not
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1, bad.stderr
    assert f"{store} is damaged (SQLite: " in bad.stderr


def live_segment(settings: Settings) -> Path:
    """The folder of the live generation's only segment."""
    gen = current_generation(settings.index_dir)
    assert gen is not None
    (segment,) = json.loads((gen / "manifest.json").read_text())["segments"]
    return settings.index_dir / "segments" / segment["name"]


def _env(settings: Settings) -> dict[str, str]:
    env = clean_env()
    env.update(QABOT_CORPUS_DIR=str(settings.corpus_dir), QABOT_INDEX_DIR=str(settings.index_dir))
    return env


def test_killed_mid_embedding_leaves_the_previous_index_usable(tmp_path: Path,
                                                              embedder: Embedder) -> None:
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    before = current_generation(s.index_dir)
    # Enough new text that embedding takes several slices: 40 articles of about 3 chunks.
    body = " ".join([STORM.split("\n\n", 1)[1].strip()] * 20)
    lines = [json.dumps({"id": f"n{i}", "title": f"Note {i}", "lang": "fr",
                         "text": f"{body} Numéro {i}."}) for i in range(40)]
    write(s.corpus_dir / "many.jsonl", "\n".join(lines))
    env = {**_env(s), "QABOT_LOG_LEVEL": "DEBUG"}
    proc = subprocess.Popen([sys.executable, "-m", "qabot", "index"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    # The log says when a slice of sentences is embedded: kill right after the first one.
    progress = re.compile(r"embedded (\d+) of (\d+) sentences")
    for line in proc.stderr:
        if (found := progress.search(line)) is not None:
            break
    assert found is not None, "embedding never started"
    assert int(found[1]) < int(found[2]), "the update finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert current_generation(s.index_dir) == before
    bot = Qabot(s, open_index(s), embedder)
    assert "Abdoulaye Diop" in bot.ask("Quel ministre a reçu l'envoyé américain ?").passages[0].quote
    # The next run takes the lock the dead process held and completes the update.
    done = subprocess.run([sys.executable, "-m", "qabot", "index", "-q"], env=_env(s),
                          cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert ": 40 added, 0 updated, 0 removed" in done.stdout
    assert not [p for p in s.index_dir.iterdir() if p.name.startswith(".building-")]


def test_a_segment_written_by_an_update_that_died_is_never_used_and_is_removed(
        tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed between writing its segment and publishing the generation that names it: the
    previous generation answers, and the next update removes the orphan."""
    from qabot.index import write as writer

    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    before = current_generation(s.index_dir)
    write(s.corpus_dir / "storm.txt", STORM)

    def killed(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # as far as this process goes, the end

    with monkeypatch.context() as patch:
        patch.setattr(writer, "publish", killed)
        with pytest.raises(KeyboardInterrupt):
            build_index(s, embedder=embedder)
    assert current_generation(s.index_dir) == before
    assert len(list((s.index_dir / "segments").iterdir())) == 2  # the orphan is there
    bot = Qabot(s, open_index(s), embedder)
    assert all("pompiers" not in p.quote for p in bot.ask(
        "Combien de familles les pompiers ont-ils secourues ?", k=3).passages)
    assert build_index(s, embedder=embedder).added == 1
    assert {p.name for p in (s.index_dir / "segments").iterdir()} == {
        seg["name"] for seg in json.loads((current_generation(s.index_dir) / "manifest.json")
                                          .read_text())["segments"]} | {
        seg["name"] for seg in json.loads((before / "manifest.json").read_text())["segments"]}


def test_repl_answers_from_new_articles_without_a_restart(tmp_path: Path,
                                                         embedder: Embedder) -> None:
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    env = {**_env(s), "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1",
           "QABOT_HISTORY_FILE": str(tmp_path / "history")}
    child = pexpect.spawn(sys.executable, ["-m", "qabot", "repl"], env=env, encoding="utf-8",
                          timeout=120, dimensions=(50, 200), cwd=str(tmp_path))
    try:
        child.expect_exact("qabot>")
        child.sendline("Combien de familles les pompiers ont-ils secourues ?")
        child.expect_exact("mali.txt")  # the best it has is a quote of the Mali article
        child.expect_exact("qabot>")
        write(s.corpus_dir / "storm.txt", STORM)
        update = subprocess.run([sys.executable, "-m", "qabot", "index", "-q"], env=_env(s),
                                cwd=tmp_path, capture_output=True, text=True, check=False)
        assert ": 1 added," in update.stdout, update.stderr
        child.sendline("Combien de familles les pompiers ont-ils secourues ?")
        child.expect_exact("quarante familles")
        child.expect_exact("qabot>")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close()


def test_qabot_add_copies_and_indexes(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    new = write(tmp_path / "inbox" / "storm.txt", STORM)
    run = [sys.executable, "-m", "qabot"]
    added = subprocess.run([*run, "add", str(new)], env=_env(s), capture_output=True, text=True,
                           check=False)
    assert added.returncode == 0, added.stderr
    assert f"added {s.corpus_dir / 'storm.txt'}" in added.stdout
    assert ": 2 added, 0 updated, 0 removed" in added.stdout
    question = "Combien de familles les pompiers ont-ils secourues ?"
    asked = subprocess.run([*run, "ask", "--json", question], env=_env(s), capture_output=True,
                           text=True, check=False)
    assert "quarante familles" in asked.stdout
    again = subprocess.run([*run, "add", str(new)], env=_env(s), capture_output=True, text=True,
                           check=False)
    assert "already in the corpus" in again.stdout and "Index is up to date" in again.stdout
    write(new, FLOOD)
    clash = subprocess.run([*run, "add", str(new)], env=_env(s), capture_output=True, text=True,
                           check=False)
    assert clash.returncode == 1
    assert clash.stderr.strip() == (f"qabot: {s.corpus_dir / 'storm.txt'} already exists with "
                                    "other content: rename storm.txt, or pass --replace to "
                                    "overwrite it")
    replaced = subprocess.run([*run, "add", "--replace", str(new)], env=_env(s),
                              capture_output=True, text=True, check=False)
    assert ": 0 added, 1 updated, 0 removed" in replaced.stdout
    pdf = write(tmp_path / "inbox" / "scan.pdf", b"%PDF")
    refused = subprocess.run([*run, "add", str(pdf)], env=_env(s), capture_output=True,
                             text=True, check=False)
    assert refused.returncode == 1 and "unsupported file type .pdf" in refused.stderr
    assert not (s.corpus_dir / "scan.pdf").exists()


def test_index_watch_updates_on_changes(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    proc = subprocess.Popen([sys.executable, "-m", "qabot", "index", "--watch"], env=_env(s),
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=0)
    try:
        assert ": 1 added," in readline(proc), proc.stderr.read() if proc.poll() else ""
        write(s.corpus_dir / "storm.txt", STORM)
        assert ": 1 added, 0 updated, 0 removed" in readline(proc)
        (s.corpus_dir / "storm.txt").unlink()
        assert ": 0 added, 0 updated, 1 removed" in readline(proc)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert b"Traceback" not in err


def readline(proc: subprocess.Popen[bytes], timeout: float = 120) -> str:
    """One line of the process's output, or fail after `timeout` seconds."""
    import select

    assert proc.stdout is not None
    line = b""
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, remaining))
        if not ready:
            raise AssertionError(f"no line within {timeout} s; got {line!r}")
        byte = proc.stdout.read(1)
        if not byte:
            raise AssertionError(f"the process ended; got {line!r}")
        line += byte
    return line.decode()


def test_a_new_splitter_analyzer_or_chunker_rebuilds_the_index(
        tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stored sentences, terms and chunks come from these stages: when one of them changes
    what it makes, reusing them would mix two versions in one index."""
    from qabot.ingest import analyze, chunk, sentences

    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    assert build_index(s, embedder=embedder).up_to_date
    for module, name in ((sentences, "SPLITTER_VERSION"), (analyze, "ANALYZER_VERSION"),
                         (chunk, "CHUNKER_VERSION")):
        monkeypatch.setattr(module, name, getattr(module, name) + 1)
        again = build_index(s, embedder=embedder)
        assert not again.up_to_date and again.added == 1 and again.embedded > 0, name
        assert build_index(s, embedder=embedder).up_to_date


def test_a_reader_whose_generation_goes_away_reads_the_current_one(
        tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    import qabot.index.open as reader

    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    first = current_generation(s.index_dir)
    verify = reader.verify

    def two_updates_meanwhile(gen: Path, checksums: bool = False) -> dict[str, object]:
        # This reader has read CURRENT; before it opens the files, two updates publish.
        if gen == first:
            write(s.corpus_dir / "storm.txt", STORM)
            build_index(s, embedder=embedder)
            assert first.is_dir()  # one update keeps the generation it replaced…
            write(s.corpus_dir / "flood.txt", FLOOD)
            build_index(s, embedder=embedder)
            assert not first.exists()  # …the next one removes it
        return verify(gen, checksums=checksums)

    monkeypatch.setattr(reader, "verify", two_updates_meanwhile)
    index = open_index(s)
    assert index.path == current_generation(s.index_dir) != first
    assert int(index.meta["documents"]) == 3


def test_index_paths_may_hold_uri_characters(tmp_path: Path, embedder: Embedder) -> None:
    root = tmp_path / "actu #1? 100%"
    s = settings_for(root)
    write(s.corpus_dir / "storm.txt", STORM)
    build_index(s, embedder=embedder)
    bot = Qabot(s, open_index(s), embedder)
    assert "quarante familles" in bot.ask("Combien de familles ont été secourues ?").passages[0].quote
    from qabot.frontends.telegram.feedback import FeedbackStore, read_counts

    FeedbackStore(s.index_dir).record(answer_key="a", chat_id=1, user_id=1, question="q",
                                      answer_ids=[], vote=1)
    counts = read_counts(s.index_dir)
    assert counts is not None and counts.up == 1


def test_qabot_add_refuses_name_clashes_and_hidden_files(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    one = write(tmp_path / "a" / "news.txt", STORM)
    two = write(tmp_path / "b" / "news.txt", FLOOD)
    run = [sys.executable, "-m", "qabot", "add"]
    clash = subprocess.run([*run, str(one), str(two)], env=_env(s), capture_output=True,
                           text=True, check=False)
    assert clash.returncode == 1
    assert clash.stderr.strip() == (f"qabot: {one} and {two} would both be copied to "
                                    f"{s.corpus_dir / 'news.txt'}: rename one of them")
    assert not (s.corpus_dir / "news.txt").exists()  # nothing copied, not even the first
    hidden = write(tmp_path / "a" / ".draft.txt", STORM)
    refused = subprocess.run([*run, str(hidden)], env=_env(s), capture_output=True, text=True,
                             check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (f"qabot: {hidden}: hidden files are not indexed; rename "
                                      "it without the leading dot")
    assert sorted(p.name for p in s.corpus_dir.iterdir()) == ["mali.txt"]


def test_malformed_generation_files_are_one_line_with_the_fix(tmp_path: Path,
                                                              embedder: Embedder) -> None:
    """Valid JSON of the wrong shape, at the size the manifest records (so that only reading
    it can tell), and an index of the previous format: each an error naming the fix."""
    s = settings_for(tmp_path)
    write(s.corpus_dir / "mali.txt", MALI)
    build_index(s, embedder=embedder)
    gen = current_generation(s.index_dir)
    assert gen is not None
    for name in ("stories.json", "tombstones.json"):
        path = gen / name
        before = path.read_text()
        path.write_text("[]".ljust(len(before)))
        with pytest.raises(IndexCorruptError, match=r"does not hold together; run `qabot "
                                                    r"index --rebuild`"):
            open_index(s)
        path.write_text(before)
    manifest = json.loads((gen / "manifest.json").read_text())
    (gen / "manifest.json").write_text(json.dumps({**manifest, "format_version": 5}))
    with pytest.raises(IndexMismatchError, match=r"has format 5, this qabot reads format 6: "
                                                 r"run `qabot index --rebuild`"):
        open_index(s)
    assert not build_index(s, embedder=embedder).up_to_date  # the writer rebuilds it
