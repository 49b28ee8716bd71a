from __future__ import annotations

from qabot.ingest.chunk import chunk_document
from qabot.ingest.sentences import split_sentences
from qabot.records import Document


def doc(text: str) -> Document:
    return Document(id="d", title="T", text=text, path="d.txt", lang="fr", content_hash="h")


TEXT = " ".join(f"Phrase numéro {i} avec six mots." for i in range(10))


def test_chunks_pack_whole_sentences_up_to_the_word_budget() -> None:
    d = doc(TEXT)
    chunks = chunk_document(d, split_sentences(TEXT), max_words=12, overlap=0)
    assert [(c.first, c.last) for c in chunks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    for c in chunks:
        assert c.text == TEXT[c.start:c.end]
        assert len(c.text.split()) <= 12


def test_neighbouring_chunks_share_overlap_sentences() -> None:
    d = doc(TEXT)
    chunks = chunk_document(d, split_sentences(TEXT), max_words=18, overlap=1)
    assert [(c.first, c.last) for c in chunks] == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 9)]


def test_a_sentence_longer_than_the_budget_is_a_chunk_of_its_own_never_cut() -> None:
    long = "Une phrase " + "très " * 50 + "longue."
    text = f"Courte. {long} Fin."
    d = doc(text)
    chunks = chunk_document(d, split_sentences(text), max_words=10, overlap=1)
    assert [c.text for c in chunks] == ["Courte.", long, "Fin."]
