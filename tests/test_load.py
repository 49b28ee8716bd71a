from __future__ import annotations

import json
from pathlib import Path

import pytest

from qabot.errors import CorpusError
from qabot.ingest.load import load_corpus
from tests.conftest import write


def test_txt_header_block(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Title: Un titre\nDate: 2025-07-22\nURL: https://ex.fr/a\n"
          "Source: Le Journal\nLang: fr\n\nLe corps. Deux phrases.\n")
    report = load_corpus(tmp_path)
    (doc,) = report.documents
    assert (doc.id, doc.title, doc.date, doc.url, doc.source, doc.lang) == (
        "a.txt", "Un titre", "2025-07-22", "https://ex.fr/a", "Le Journal", "fr")
    assert doc.text == "Le corps. Deux phrases."
    assert report.warnings == []


def test_txt_without_header_takes_first_line_as_title_and_detects_language(tmp_path: Path) -> None:
    write(tmp_path / "b.txt", "The envoy visits Bamako\nThe envoy said that the fight is shared.\n")
    (doc,) = load_corpus(tmp_path).documents
    assert doc.title == "The envoy visits Bamako"
    assert doc.text == "The envoy said that the fight is shared."
    assert doc.lang == "en"


def test_markdown_front_matter(tmp_path: Path) -> None:
    write(tmp_path / "c.md", "---\ntitle: Md\ndate: 2025-01-02\nurl: http://x\nsource: S\n"
          "lang: en\n---\nBody text here. Second sentence.\n")
    (doc,) = load_corpus(tmp_path).documents
    assert (doc.title, doc.date, doc.url, doc.source, doc.lang) == (
        "Md", "2025-01-02", "http://x", "S", "en")
    assert doc.text == "Body text here. Second sentence."


def test_markdown_heading_as_title(tmp_path: Path) -> None:
    write(tmp_path / "d.md", "# Le titre\n\nLe texte de l'article.\n")
    (doc,) = load_corpus(tmp_path).documents
    assert doc.title == "Le titre"
    assert doc.text == "Le texte de l'article."


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    write(tmp_path / "e.html", """<html lang="fr"><head><title>Page</title>
        <meta property="og:site_name" content="Le Site">
        <meta property="article:published_time" content="2025-07-22">
        <link rel="canonical" href="https://ex.fr/e"></head>
        <body><nav>Menu Accueil</nav><article><h1>Titre</h1>
        <p>Premier paragraphe. Deux.</p><p>Second &amp; <b>gras</b>.</p></article>
        <script>var x = 1;</script><footer>Mentions</footer></body></html>""")
    (doc,) = load_corpus(tmp_path).documents
    assert (doc.title, doc.source, doc.date, doc.url, doc.lang) == (
        "Page", "Le Site", "2025-07-22", "https://ex.fr/e", "fr")
    assert doc.text == "Titre\n\nPremier paragraphe. Deux.\n\nSecond & gras."


def test_jsonl_articles_and_bad_lines(tmp_path: Path) -> None:
    good = {"id": "n1", "title": "T", "text": "Hello world. It works.", "lang": "en",
            "url": "https://ex.com/n1", "date": "2025-01-01", "source": "Wire"}
    write(tmp_path / "feed" / "news.jsonl", "\n".join([
        json.dumps(good), "{not json", json.dumps({"id": "n2", "title": "No text"}),
        json.dumps(["a", "list"]), "", json.dumps({**good, "id": "n3"})]) + "\n")
    report = load_corpus(tmp_path)
    assert [d.id for d in report.documents] == ["n1", "n3"]
    assert report.documents[0].path == "feed/news.jsonl:1"
    assert report.documents[0].source == "Wire"
    assert report.warnings == [
        ("feed/news.jsonl:2: invalid JSON (Expecting property name enclosed in double quotes), "
        "line skipped"),
        "feed/news.jsonl:3: missing text, line skipped",
        "feed/news.jsonl:4: not a JSON object, line skipped",
    ]


def test_broken_files_are_skipped_with_one_warning_each(tmp_path: Path) -> None:
    write(tmp_path / "good.txt", "Titre\nUn texte valide. Vraiment.\n")
    write(tmp_path / "latin1.txt", "Titre\nCaf\xe9 cr\xe8me.\n".encode("latin-1"))
    write(tmp_path / "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(tmp_path / "empty.md", "")
    write(tmp_path / "blank.txt", "  \n\n")
    write(tmp_path / "report.pdf", b"%PDF-1.4")
    write(tmp_path / "bad.md", "---\ntitle: [unclosed\n---\nText.\n")
    write(tmp_path / ".DS_Store", b"\x00\x01")
    report = load_corpus(tmp_path)
    assert [d.id for d in report.documents] == ["good.txt"]
    assert report.skipped == 6
    assert sorted(report.warnings) == [
        "bad.md: invalid YAML front matter (while parsing a flow sequence), skipped",
        "blank.txt: empty file, skipped",
        "empty.md: empty file, skipped",
        "image.txt: binary file, not text, skipped",
        "latin1.txt: not valid UTF-8 (byte 9); re-save it as UTF-8, skipped",
        ("report.pdf: unsupported file type .pdf; use one of .txt, .md, .markdown, .html, .htm, "
        ".jsonl, skipped"),
    ]


def test_duplicate_ids_keep_the_first(tmp_path: Path) -> None:
    line = json.dumps({"id": "same", "title": "T", "text": "Du texte."})
    write(tmp_path / "a.jsonl", line + "\n")
    write(tmp_path / "b.jsonl", line + "\n")
    report = load_corpus(tmp_path)
    assert [d.path for d in report.documents] == ["a.jsonl:1"]
    assert report.warnings == [
        "b.jsonl:1: duplicate document id 'same' (already in a.jsonl:1), skipped"]


def test_content_hash_changes_with_text_only(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Titre\nTexte un.\n")
    first = load_corpus(tmp_path).documents[0].content_hash
    assert load_corpus(tmp_path).documents[0].content_hash == first
    path.write_text("Titre\nTexte deux.\n", encoding="utf-8")
    assert load_corpus(tmp_path).documents[0].content_hash != first


def test_missing_corpus_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist: create it"):
        load_corpus(tmp_path / "nope")


def test_shipped_article_metadata() -> None:
    from tests.conftest import CORPUS

    (doc,) = load_corpus(CORPUS).documents
    assert doc.date == "2025-07-22"
    assert doc.lang == "fr"
    assert "Bougouni" in doc.title
    assert doc.text.startswith("En visite de travail à Bamako")
