"""Chunking: whole sentences packed up to a word budget, with sentence overlap."""

from __future__ import annotations

from collections.abc import Sequence

from qabot.records import Chunk, Document, Sentence

__all__ = ["CHUNKER_VERSION", "chunk_document"]

# Bump whenever the same sentences would be packed into other chunks.
CHUNKER_VERSION = 1

#: A chunk holding at least this share of its word budget ends at a paragraph break rather
#: than run into the next paragraph: paragraphs are units of meaning, and BM25 over one
#: paragraph is sharper than over the end of one and the start of the next.
PARAGRAPH_BREAK_SHARE = 0.3


def chunk_document(
    doc: Document,
    sentences: Sequence[Sentence],
    *,
    max_words: int,
    overlap: int,
) -> list[Chunk]:
    """Pack consecutive sentences into chunks of at most `max_words` words; adjacent chunks
    share `overlap` sentences, and a chunk that is long enough stops at a paragraph break.

    A sentence longer than the budget becomes a chunk of its own: it is never cut, so every
    chunk is exact document text that quotes can point into.
    """
    n = len(sentences)
    word_counts = [len(doc.text[s.start:s.end].split()) for s in sentences]
    chunks: list[Chunk] = []
    first = 0
    while first < n:
        last, words = first, word_counts[first]
        while last + 1 < n:
            if (sentences[last + 1].para != sentences[last].para
                    and words >= PARAGRAPH_BREAK_SHARE * max_words):
                break
            more_words = words + word_counts[last + 1]
            if more_words > max_words:
                break
            last, words = last + 1, more_words
        start, end = sentences[first].start, sentences[last].end
        chunks.append(Chunk(doc.id, len(chunks), first, last, start, end, doc.text[start:end]))
        if last + 1 >= n:
            break
        first = max(first + 1, last + 1 - overlap)
    return chunks
