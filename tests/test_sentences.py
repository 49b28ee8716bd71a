from __future__ import annotations

import pytest

from qabot.ingest.sentences import split_paragraphs, split_sentences


def sentences(text: str) -> list[str]:
    return [text[s.start:s.end] for s in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("M. Dupont est arrivé. Mme Martin aussi.", ["M. Dupont est arrivé.", "Mme Martin aussi."]),
        ("Le Dr. House est là. Il soigne.", ["Le Dr. House est là.", "Il soigne."]),
        ("The U.S. Army is here. Dr. Smith agrees.", ["The U.S. Army is here.", "Dr. Smith agrees."]),
        ("He lives in the U.S. The rest is history.", ["He lives in the U.S.", "The rest is history."]),
        ("Des pommes, des poires, etc. et des prunes. Fin du marché.",
         ["Des pommes, des poires, etc. et des prunes.", "Fin du marché."]),
        ("Il y avait des pommes, etc. Le marché a fermé.",
         ["Il y avait des pommes, etc.", "Le marché a fermé."]),
        ("La croissance est de 3,2 % cette année. Elle était de 1.5 % avant.",
         ["La croissance est de 3,2 % cette année.", "Elle était de 1.5 % avant."]),
        ("William B. Stevens a parlé. Il est parti.", ["William B. Stevens a parlé.", "Il est parti."]),
        ("« La lutte est partagée. Al-Qaïda est une menace », a déclaré M. Stevens. Puis il partit.",
         ["« La lutte est partagée. Al-Qaïda est une menace », a déclaré M. Stevens.",
          "Puis il partit."]),
        ("« Non. » Il partit.", ["« Non. »", "Il partit."]),
        ('He said "Hello. Goodbye." Then he left.', ['He said "Hello. Goodbye."', "Then he left."]),
        ("Il hésita... Puis il partit.", ["Il hésita...", "Puis il partit."]),
        ("Il hésita… puis il partit.", ["Il hésita… puis il partit."]),
        ("Wait… What happened? Nothing! The end.", ["Wait…", "What happened?", "Nothing!", "The end."]),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_paragraph_breaks_end_sentences_and_number_paragraphs() -> None:
    text = "Titre sans point\n\nPremier paragraphe. Deux phrases.\n\n\nDernier"
    got = split_sentences(text)
    assert [text[s.start:s.end] for s in got] == [
        "Titre sans point", "Premier paragraphe.", "Deux phrases.", "Dernier"]
    assert [s.para for s in got] == [0, 1, 1, 2]
    assert [s.ordinal for s in got] == [0, 1, 2, 3]


def test_markdown_headings_and_list_items_are_their_own_lines() -> None:
    text = "# Heading\nFirst line of text.\n- item one\n- item two"
    assert sentences(text) == ["# Heading", "First line of text.", "- item one", "- item two"]


def test_offsets_are_exact_on_the_shipped_article() -> None:
    from tests.conftest import CORPUS

    text = (CORPUS / "000_d5078016723e65e9.txt").read_text(encoding="utf-8")
    got = split_sentences(text)
    assert len(got) == 13  # header line, then the article's 12 sentences
    for s in got:
        chunk = text[s.start:s.end]
        assert chunk == chunk.strip() and chunk
    assert any(text[s.start:s.end].startswith("Ce mardi 22 juillet, 900 nouvelles recrues")
               for s in got)


def test_paragraphs_are_trimmed() -> None:
    text = "  a  \n \n b "
    assert [text[s:e] for s, e in split_paragraphs(text)] == ["a", "b"]


def test_overlong_sentences_are_cut_at_clause_then_word_boundaries() -> None:
    clause = "une liste de mots sans point final " * 5  # 175 characters
    text = "; ".join([clause.strip()] * 6) + "."
    got = sentences(text)
    assert len(got) > 1
    assert all(len(s) <= 600 for s in got)
    assert all(s.endswith(";") for s in got[:-1])
    assert " ".join(got) == text
    unbroken = "x" * 1300
    assert [len(s) for s in sentences(unbroken)] == [600, 600, 100]
