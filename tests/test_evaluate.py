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
from qabot.frontends.evaluate import evaluate, load_squad
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
                          "--mode", "hybrid", "--mode", "lexical", "--limit", "2"], env=env,
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
    table = subprocess.run([sys.executable, "-m", "qabot", "eval", str(squad), "--mode",
                            "dense"], env={**env, "COLUMNS": "200"}, cwd=tmp_path,
                           capture_output=True, text=True, check=False)
    assert table.returncode == 0, table.stderr
    assert "hit@1" in table.stdout and "dense" in table.stdout


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
