"""Abstention's calibration: stored with each index generation, reused by updates, redone when
what it was embedded with changes; and the setting that moves the cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from qabot.config import Settings, load_settings
from qabot.embedding.encoder import Embedder, embedder_for
from qabot.engine import Qabot
from qabot.index import write as update
from qabot.index.open import open_index
from qabot.index.write import build_index
from qabot.search.abstain import reference_key, reference_texts
from tests.conftest import CORPUS, write


def test_calibration_texts_hold_anchors_and_probes_in_both_languages() -> None:
    anchors, probes, _ = reference_texts()
    assert len(anchors) >= 40 and len(probes) >= 40
    assert any(p.startswith("Comment") for p in probes) and any(p.startswith("How") for p in probes)


def test_updates_reuse_the_calibration_until_the_prompts_change(
        tmp_path: Path, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i")
    write(settings.corpus_dir / "mali.txt", (CORPUS / "000_d5078016723e65e9.txt").read_text())
    build_index(settings, embedder=embedder)
    first = open_index(settings)
    assert first.reference.texts_id == reference_key("query: ", "passage: ")
    # An update reuses the calibration vectors: embedding them again would fail here.
    monkeypatch.setattr(update, "embed_reference", _must_not_embed)
    write(settings.corpus_dir / "storm.txt", "Title: Orages\nLang: fr\n\nIl a plu toute la nuit.\n")
    assert build_index(settings, embedder=embedder).added == 1
    assert open_index(settings).reference.texts_id == first.reference.texts_id
    # Another query prompt embeds the probes differently: recalibrate, though no article changed.
    monkeypatch.undo()
    other: Settings = settings.model_copy(update={"query_prompt": "question: "})
    summary = build_index(other, embedder=embedder_for(other))
    assert not summary.up_to_date and summary.embedded == 0
    third = open_index(other)
    assert third.reference.texts_id == reference_key("question: ", "passage: ")
    assert build_index(other, embedder=embedder_for(other)).up_to_date


def _must_not_embed(embedder: Embedder) -> None:
    raise AssertionError("the calibration was embedded again")


def test_min_relevance_moves_the_cut(shipped_settings: Settings, embedder: Embedder) -> None:
    index = open_index(shipped_settings)
    lenient = Qabot(shipped_settings.model_copy(update={"min_relevance": -1.0}), index, embedder)
    strict = Qabot(shipped_settings.model_copy(update={"min_relevance": 1.0}), index, embedder)
    default = Qabot(shipped_settings, index, embedder)
    off_topic, real = "How do I knit a scarf?", "Combien de recrues sont arrivées au camp ?"
    assert not default.ask(off_topic).answered and default.ask(real).answered
    assert lenient.ask(off_topic).answered
    assert not strict.ask(real).answered
