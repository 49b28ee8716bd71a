"""`qabot eval`: metrics checked against values worked out by hand on a tiny SQuAD file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qabot.config import load_settings
from qabot.embedding.encoder import Embedder
from qabot.errors import QabotError
from qabot.frontends.evaluate import evaluate, load_squad, score_answer
from qabot.records import Answer, Citation, Passage
from tests.conftest import clean_env

SQUAD = {"version": "v1", "data": [
    {"title": "Le Louvre", "paragraphs": [{
        "context": "Le musée du Louvre ouvre à 9 heures du matin. Le musée du Louvre ferme à "
                   "18 heures, sauf le vendredi.",
        "qas": [
            # The Louvre paragraph ranks first; the gold text is only in the Orsay one: rank 2.
            {"id": "q1", "question": "À quelle heure ouvre le musée du Louvre ?",
             "answers": [{"text": "10 heures", "answer_start": 0}]},
            # Two gold answers; the second is in the first quote, in its best sentence.
            {"id": "q3", "question": "À quelle heure ferme le musée du Louvre ?",
             "answers": [{"text": "six heures du soir", "answer_start": 0},
                         {"text": "18  Heures", "answer_start": 0}]},
        ]}]},
    {"title": "Le musée d'Orsay", "paragraphs": [{
        "context": "Le musée d'Orsay ouvre à 10 heures. Il expose des tableaux impressionnistes.",
        "qas": []}]},
    {"title": "Météo", "paragraphs": [{
        "context": "Il pleuvra sur la Bretagne jeudi. Le vent soufflera fort sur les côtes.",
        "qas": [
            # Nothing in the corpus answers it.
            {"id": "q2", "question": "Quelle est la recette de la tarte tatin ?",
             "answers": [{"text": "pommes", "answer_start": 0}]},
        ]}]},
]}


@pytest.fixture()
def squad(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(SQUAD, ensure_ascii=False), encoding="utf-8")
    return path


def test_metrics_match_the_hand_worked_values(squad: Path, embedder: Embedder,
                                              tmp_path: Path) -> None:
    settings = load_settings(index_dir=tmp_path / "mine")
    report = evaluate(settings, load_squad(squad), modes=("hybrid",), k=5, embedder=embedder)
    # q1: first hit at rank 2; q2: not answered; q3: hit at rank 1, in the highlight.
    hybrid = report["modes"]["hybrid"]
    assert hybrid["hit@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert hybrid["hit@3"] == pytest.approx(2 / 3, abs=1e-4)
    assert hybrid["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert hybrid["mrr@5"] == pytest.approx((1 / 2 + 0 + 1) / 3, abs=1e-4)
    assert hybrid["highlight@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert hybrid["answered"] == pytest.approx(2 / 3, abs=1e-4)
    assert hybrid["latency_ms_p50"] > 0 and hybrid["latency_ms_p95"] >= hybrid["latency_ms_p50"]
    assert (report["questions"], report["documents"]) == (3, 3)
    assert report["model"] == "intfloat/multilingual-e5-small"
    assert not (tmp_path / "mine").exists()  # the user's index is never touched


def test_eval_json_and_table(squad: Path, tmp_path: Path) -> None:
    env = clean_env()
    out = subprocess.run([sys.executable, "-m", "qabot", "eval", str(squad), "--json",
                          "--mode", "hybrid", "--mode", "lexical", "--limit", "2"],
                         env={**env, "QABOT_RECENCY_HALF_LIFE_DAYS": "45"},
                         cwd=tmp_path, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert set(report) == {"questions", "documents", "chunks", "model", "index_seconds", "k",
                           "settings", "modes"}
    assert set(report["modes"]) == {"hybrid", "lexical"}
    assert set(report["modes"]["lexical"]) == {"hit@1", "hit@3", "hit@5", "highlight@1",
                                               "mrr@5", "answered", "latency_ms_p50",
                                               "latency_ms_p95", "shown", "shown_with_answer"}
    assert report["questions"] == 2
    assert report["settings"]["min_relevance"] == 0.0
    assert report["settings"]["recency_half_life_days"] == 0.0  # off unless asked for
    table = subprocess.run([sys.executable, "-m", "qabot", "eval", str(squad), "--mode",
                            "dense", "--mode", "rrf"], env={**env, "COLUMNS": "200"},
                           cwd=tmp_path, capture_output=True, text=True, check=False)
    assert table.returncode == 0, table.stderr
    rows = {line.split("│")[1].strip() for line in table.stdout.splitlines()
            if line.count("│") > 2}
    assert {"dense", "rrf"} <= rows and "hit@1" in table.stdout
    bad = subprocess.run([sys.executable, "-m", "qabot", "eval", str(squad), "--mode", "best"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "qabot: unknown mode 'best': use hybrid, lexical, dense, rrf"


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "is not a JSON file"),
    ('{"data": 3}', "is not in SQuAD v1 form"),
    ('{"data": [{"title": "T"}]}', 'every article needs "paragraphs"'),
    ('{"data": [{"title": "T", "paragraphs": [{"context": "x", "qas": []}]}]}',
     "holds no question with an answer"),
])
def test_bad_datasets_are_one_clear_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(QabotError, match=message):
        load_squad(path)
    env = clean_env()
    out = subprocess.run([sys.executable, "-m", "qabot", "eval", str(path)], env=env,
                         cwd=tmp_path, capture_output=True, text=True, check=False)
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr


# `score_answer` on hand-built answers: what one question adds to each metric of `qabot eval`.

CITATION = Citation("Le Louvre", "2025-01-01", None, None, "louvre.txt", "louvre")
FILLER = "Le musée expose des peintures de toutes les époques."


def passage(quote: str, highlight: str | None = None) -> Passage:
    """A quote whose marked sentence is `highlight` (the whole quote when not given)."""
    highlight = quote if highlight is None else highlight
    return Passage(quote, highlight, CITATION, 0.5, 0, len(quote), quote.index(highlight))


def answer(*passages: Passage) -> Answer:
    return Answer("À quelle heure ferme le Louvre ?", bool(passages), "fr", list(passages))


def test_gold_in_the_highlight_of_the_first_quote_scores_every_metric() -> None:
    first = passage("Le musée ouvre à 9 heures. Il ferme à 18 heures.", "Il ferme à 18 heures.")
    scores = score_answer(answer(first, passage(FILLER), passage(FILLER)), ["18 heures"])
    assert scores == {"hit@1": 1.0, "hit@3": 1.0, "hit@5": 1.0, "highlight@1": 1.0,
                      "mrr@5": 1.0, "answered": 1.0}


def test_gold_in_the_first_quote_but_outside_its_highlight_is_no_highlight_hit() -> None:
    first = passage("Le musée ouvre à 9 heures. Il ferme à 18 heures.",
                    "Le musée ouvre à 9 heures.")
    scores = score_answer(answer(first, passage(FILLER)), ["18 heures"])
    assert scores["hit@1"] == 1.0 and scores["mrr@5"] == 1.0
    assert scores["highlight@1"] == 0.0


def test_highlight_counts_the_first_quote_only() -> None:
    second = passage("Il ferme à 18 heures.")
    scores = score_answer(answer(passage(FILLER), second), ["18 heures"])
    assert scores["hit@1"] == 0.0 and scores["hit@3"] == 1.0
    assert scores["highlight@1"] == 0.0


def test_gold_only_in_the_third_quote() -> None:
    third = passage("Il ferme à 18 heures.")
    scores = score_answer(answer(passage(FILLER), passage("Le musée ouvre à 9 heures."), third,
                                 passage(FILLER)), ["18 heures"])
    assert (scores["hit@1"], scores["hit@3"], scores["hit@5"]) == (0.0, 1.0, 1.0)
    assert scores["mrr@5"] == pytest.approx(1 / 3)
    assert scores["highlight@1"] == 0.0 and scores["answered"] == 1.0


@pytest.mark.parametrize(("rank", "hits", "mrr"), [
    (4, (0.0, 0.0, 1.0), 1 / 4),
    (5, (0.0, 0.0, 1.0), 1 / 5),
    (6, (0.0, 0.0, 0.0), 0.0),  # asked with -k 6: a sixth quote is beyond every metric
])
def test_ranks_past_three(rank: int, hits: tuple[float, float, float], mrr: float) -> None:
    passages = [passage(FILLER)] * (rank - 1) + [passage("Il ferme à 18 heures.")]
    scores = score_answer(answer(*passages), ["18 heures"])
    assert (scores["hit@1"], scores["hit@3"], scores["hit@5"]) == hits
    assert scores["mrr@5"] == pytest.approx(mrr)


def test_gold_in_no_quote_scores_zero_but_counts_as_answered() -> None:
    scores = score_answer(answer(passage(FILLER), passage("Le musée ouvre à 9 heures.")),
                          ["18 heures"])
    assert scores == {"hit@1": 0.0, "hit@3": 0.0, "hit@5": 0.0, "highlight@1": 0.0,
                      "mrr@5": 0.0, "answered": 1.0}


def test_unanswered_question_scores_zero_everywhere() -> None:
    refused = Answer("Quelle est la recette de la tarte tatin ?", False, "fr", [])
    assert score_answer(refused, ["pommes"]) == dict.fromkeys(
        ("hit@1", "hit@3", "hit@5", "highlight@1", "mrr@5", "answered"), 0.0)


def test_one_matching_gold_among_several_is_enough() -> None:
    first = passage("Il ferme à 18 heures.")
    scores = score_answer(answer(first), ["six heures du soir", "18 heures", "à la nuit"])
    assert scores["hit@1"] == 1.0 and scores["highlight@1"] == 1.0


def test_rank_is_that_of_the_first_quote_holding_any_gold() -> None:
    # The first gold is only in the third quote, the second gold in the second: rank 2.
    quotes = answer(passage(FILLER), passage("Il ferme à 18 heures."),
                    passage("Il ferme à six heures du soir."))
    scores = score_answer(quotes, ["six heures du soir", "18 heures"])
    assert scores["hit@1"] == 0.0 and scores["hit@3"] == 1.0
    assert scores["mrr@5"] == pytest.approx(1 / 2)


@pytest.mark.parametrize("gold", [
    "18 HEURES",  # case
    "18  heures",  # runs of spaces
    "18\u00a0heures",  # a non-breaking space, as in French typography
    "\n18\theures ",  # other whitespace, and around the answer
    "\uff11\uff18 heures",  # full-width digits (NFKC)
    "fe\u0301vrier",  # e + combining accent against the precomposed é of the quote
])
def test_case_whitespace_and_unicode_forms_do_not_matter(gold: str) -> None:
    first = passage("Il ferme à 18 heures, sauf en février.")
    scores = score_answer(answer(first), [gold])
    assert scores["hit@1"] == 1.0 and scores["highlight@1"] == 1.0


@pytest.mark.parametrize(("gold", "quote"), [
    ("Etats-Unis", "Une menace pour les États-Unis."),  # accent missing from the gold
    ("fevrier", "Il ferme en février."),
    ("États-Unis", "Une menace pour les Etats-Unis."),  # accent missing from the quote
])
def test_accents_do_matter(gold: str, quote: str) -> None:
    """Matching is exact up to case, whitespace and Unicode compatibility forms: an answer
    spelt without its accents is not found (nor the other way round)."""
    scores = score_answer(answer(passage(quote)), [gold])
    assert scores["hit@1"] == 0.0 and scores["highlight@1"] == 0.0


def test_gold_across_the_highlight_boundary_is_a_hit_but_no_highlight_hit() -> None:
    quote = "Le musée ouvre à 9 heures. Il ferme à 18 heures. Le vendredi, il ferme à 21 heures."
    first = passage(quote, "Il ferme à 18 heures.")
    # Starts inside the highlight, ends in the next sentence.
    across = score_answer(answer(first), ["18 heures. Le vendredi"])
    assert across["hit@1"] == 1.0
    assert across["highlight@1"] == 0.0
    # Starts in the sentence before, ends inside the highlight.
    before = score_answer(answer(first), ["9 heures. Il ferme"])
    assert before["hit@1"] == 1.0 and before["highlight@1"] == 0.0
    # The whole highlight, exactly, is inside it.
    exact = score_answer(answer(first), ["Il ferme à 18 heures."])
    assert exact["highlight@1"] == 1.0


def test_a_blank_gold_answer_is_never_a_hit(tmp_path: Path) -> None:
    path = tmp_path / "blank.json"
    path.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [{
        "context": "Le musée ferme à 18 heures.",
        "qas": [{"question": "Qui a peint la Joconde ?", "answers": [{"text": " "}]},
                {"question": "À quelle heure ferme le musée ?",
                 "answers": [{"text": "18 heures"}]}]}]}]}), encoding="utf-8")
    unrelated = answer(passage(FILLER))
    hits = [q.question for q in load_squad(path).questions
            if score_answer(unrelated, q.answers)["hit@1"]]
    assert hits == []
    assert score_answer(unrelated, [" ", "\u00a0"])["hit@1"] == 0  # also when not loaded
