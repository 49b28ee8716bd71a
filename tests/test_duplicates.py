"""Near-duplicate grouping on its own (no model): shingles, the exact check, story names."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest

from qabot.ingest import duplicates
from qabot.ingest.duplicates import Grouper, band_keys, overlap, shingles, signature

WIRE = ("Le camp militaire de Bougouni accueille pour la première fois une session de formation "
        "commune de base pour neuf cents nouvelles recrues venues de Bamako, Sikasso, Koutiala "
        "et Bougouni, qui suivront six mois d'instruction avant de rejoindre leurs unités.")
DAM = ("Le barrage de Taoussa doit irriguer cent trente-neuf mille hectares et produire de "
       "l'électricité pour les régions du nord, mais le chantier a connu de nombreuses "
       "interruptions liées à l'insécurité depuis son lancement il y a dix ans.")
RAIN = "La saison des pluies commence tôt cette année dans tout le Sahel, disent les météorologues."


def _grouper(texts: dict[str, str], stories: dict[str, str],
             read: list[str] | None = None) -> Grouper:
    """A grouper over `texts`, its band table being every placed text's keys; the ids whose
    text it reads go to `read`."""

    def lookup(band: int, key: bytes) -> Iterable[str]:
        return [i for i in stories if band_keys(signature(shingles(texts[i])))[band] == key]

    def text_of(doc_id: str) -> str:
        if read is not None:
            read.append(doc_id)
        return texts[doc_id]

    return Grouper(0.5, lookup=lookup, text_of=text_of, exact=lambda body: None,
                   story_of=stories.__getitem__)


def test_shingles_and_overlap_measure_the_shorter_text() -> None:
    brief = WIRE.split(",")[0]
    assert overlap(shingles(brief), shingles(WIRE)) == 1.0  # a cut-down version: all in
    assert overlap(shingles(WIRE), shingles(DAM)) == 0.0
    assert overlap(frozenset(), shingles(WIRE)) == 0.0
    assert shingles("Un mot") == frozenset({"un mot"})


def test_signatures_are_the_stored_minhash_of_the_shingles() -> None:
    # Band keys stored by earlier updates must meet those of new articles: the signature is
    # datasketch's affine32 MinHash of the shingles (SHA-1), however it is computed.
    from datasketch import MinHash

    for text in (WIRE, DAM, RAIN, "Un mot", ""):
        grams = shingles(text)
        reference = MinHash(num_perm=128, seed=7, scheme="affine32")
        reference.update_batch([g.encode() for g in grams])
        assert np.array_equal(signature(grams), np.asarray(reference.hashvalues, dtype="<u8"))
        assert np.array_equal(signature(duplicates.shingle_hashes(grams)), signature(grams))


def test_grouping_is_the_same_when_the_shingle_cache_is_full(
        monkeypatch: pytest.MonkeyPatch) -> None:
    texts = {"x": WIRE, "y": DAM, "z": WIRE + " " + DAM, "w": DAM + " Avec AFP."}
    read: list[str] = []
    results = []
    for cached in (duplicates.CACHED_HASHES, 1):
        monkeypatch.setattr(duplicates, "CACHED_HASHES", cached)
        stories: dict[str, str] = {}
        grouper = _grouper(texts, stories, read)
        for doc_id, text in texts.items():
            stories[doc_id] = grouper.place(doc_id, text, doc_id, f"{doc_id}@1").story
        results.append({i: grouper.story(s) for i, s in stories.items()})
        if cached > 1:
            assert read == []  # the placed articles' shingles were kept
    assert read  # with no room, candidates were cut into shingles again
    assert results[0] == results[1]
    assert results[0]["x"] == results[0]["y"] == results[0]["z"] == results[0]["w"]


def test_stories_join_by_content_and_an_edited_article_never_takes_back_an_old_name() -> None:
    texts = {"a": WIRE, "b": WIRE + " Avec AFP.", "c": DAM}
    stories: dict[str, str] = {}
    grouper = _grouper(texts, stories)
    for doc_id in ("a", "b", "c"):
        stories[doc_id] = grouper.place(doc_id, texts[doc_id], doc_id, f"{doc_id}@1").story
    assert stories == {"a": "a@1", "b": "a@1", "c": "c@1"}
    # "a" is edited into the dam story: it joins that one...
    texts["a"] = DAM.replace("Taoussa", "Kandadji")
    del stories["a"]
    assert _grouper(texts, stories).place("a", texts["a"], "a2", "a@2").story == "c@1"
    # ...or, edited into a story of its own, gets a new name: "a@1" is still b's story.
    texts["a"] = RAIN
    assert _grouper(texts, stories).place("a", texts["a"], "a3", "a@3").story == "a@3"


def test_an_article_that_bridges_two_stories_merges_them() -> None:
    first, second = WIRE, DAM
    texts = {"x": first, "y": second, "z": first + " " + second}
    stories: dict[str, str] = {}
    grouper = _grouper(texts, stories)
    for doc_id in ("x", "y", "z"):
        stories[doc_id] = grouper.place(doc_id, texts[doc_id], doc_id, f"{doc_id}@1").story
    assert stories["x"] != stories["y"]
    assert grouper.story(stories["x"]) == grouper.story(stories["y"]) == stories["z"]
