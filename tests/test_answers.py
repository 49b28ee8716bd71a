"""Questions on the shipped article, answered by the real model, FAISS, BM25 and SQLite."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from qabot.config import load_settings
from qabot.embedding.encoder import Embedder
from qabot.engine import Qabot
from qabot.errors import QabotError
from qabot.frontends.render import plain_answer
from qabot.index.open import open_index
from qabot.index.write import build_index
from qabot.records import Answer
from qabot.search.retrieve import Mode
from tests.conftest import CORPUS, write

ARTICLE = (CORPUS / "000_d5078016723e65e9.txt").read_text(encoding="utf-8")
OFF_TOPIC = [line.strip() for line in
             (Path(__file__).parent / "data" / "off_topic.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
ENGLISH = [line.split("\t") for line in
           (Path(__file__).parent / "data" / "english_questions.tsv").read_text().splitlines()
           if line.strip() and not line.startswith("#")]


#: The retrieval modes `Qabot.ask` and `qabot eval --mode` offer. A test of what a question
#: finds runs in each mode that can be expected to find it; where one is left out, a comment
#: says why.
MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense", "rrf")
#: Without the lexical mode: BM25 matches words, and a question in another language than the
#: article shares few with it (names, numbers), so lexical mode misses what the meaning alone
#: finds (see test_hybrid_finds_by_meaning_what_shares_no_word_with_the_article).
BY_MEANING: tuple[Mode, ...] = ("hybrid", "dense", "rrf")


def verbatim(quote: str) -> str:
    return quote.removeprefix("… ").removesuffix(" …")


def check_passages(answer: Answer) -> None:
    for p in answer.passages:
        assert verbatim(p.quote) in ARTICLE
        assert p.highlight in p.quote
        assert p.quote[p.highlight_at:].startswith(p.highlight)
        assert len(p.quote) <= 900 + 4  # QABOT_MAX_QUOTE_CHARS and the ellipses
        assert p.citation.date == "2025-07-22"
        assert p.citation.path == "000_d5078016723e65e9.txt"


@pytest.mark.parametrize("mode", MODES)
def test_recruits_count_quotes_the_sentence_with_900(bot: Qabot, mode: Mode) -> None:
    answer = bot.ask("Combien de recrues sont arrivées au camp de Bougouni ?", mode=mode)
    assert answer.answered and answer.lang == "fr"
    best = answer.passages[0]
    assert "900 nouvelles recrues" in best.quote
    assert "900 nouvelles recrues" in best.highlight
    check_passages(answer)


@pytest.mark.parametrize("mode", MODES)
def test_minister_question_quotes_abdoulaye_diop(bot: Qabot, mode: Mode) -> None:
    answer = bot.ask("Quel ministre a reçu l'envoyé américain ?", mode=mode)
    assert answer.answered
    assert "Abdoulaye Diop" in answer.passages[0].highlight
    check_passages(answer)


# Lexical mode too: "Bougouni" is the one word the question shares with the article, and
# the paragraph that answers is the only one that names it.
@pytest.mark.parametrize("mode", MODES)
def test_english_question_finds_the_french_sentence_on_six_months(bot: Qabot, mode: Mode) -> None:
    answer = bot.ask("How long is the training of the recruits at Bougouni?", mode=mode)
    assert answer.answered and answer.lang == "en"
    assert "formation de six mois" in answer.passages[0].quote
    check_passages(answer)


def test_off_topic_questions_are_refused(bot: Qabot) -> None:
    assert len(OFF_TOPIC) >= 60
    answered = [q for q in OFF_TOPIC if bot.ask(q).answered]
    assert 1 - len(answered) / len(OFF_TOPIC) >= 0.9, answered
    refused = bot.ask(OFF_TOPIC[0])
    assert not refused.answered and refused.passages == []


# Not lexical: most of these questions share no word with the French article but a name
# (0.55 of them found in lexical mode today). Nor rrf, the baseline that hybrid is measured
# against: it gives BM25's rank as much say as the meaning's (27 of 33, 0.82).
@pytest.mark.parametrize("mode", ["hybrid", "dense"])
def test_english_questions_find_the_french_sentence(bot: Qabot, mode: Mode) -> None:
    """At least 0.85 of them answered with the expected sentence in the first quote."""
    cases = [(q, fragment) for article, q, fragment in ENGLISH if article == "mali"]
    assert len(cases) >= 30
    missed = []
    for question, fragment in cases:
        answer = bot.ask(question, mode=mode)
        if not (answer.answered and fragment in answer.passages[0].quote):
            missed.append(question)
        assert answer.lang == "en"
    assert 1 - len(missed) / len(cases) >= 0.85, missed


@pytest.mark.parametrize(("question", "fragment"), [
    ("How long does the training last?", "formation de six mois"),
    ("How many soldiers joined?", "900 nouvelles recrues"),
])
def test_hybrid_finds_by_meaning_what_shares_no_word_with_the_article(
        bot: Qabot, question: str, fragment: str) -> None:
    """Why lexical mode is left out of the cross-language tests, and what hybrid adds: not
    one word of these questions is in the French article, so BM25 finds nothing at all."""
    lexical = bot.ask(question, mode="lexical")
    assert not lexical.answered and lexical.passages == []
    answer = bot.ask(question)  # hybrid, the default
    assert answer.answered and answer.lang == "en"
    assert fragment in answer.passages[0].quote
    check_passages(answer)


# Not lexical: the French questions share with the English article only "ferries" and "Brest"
# (two of the four found in lexical mode).
@pytest.mark.parametrize("mode", BY_MEANING)
def test_french_questions_about_an_english_article(tmp_path: Path, embedder: Embedder,
                                                   mode: Mode) -> None:
    write(tmp_path / "c" / "storm.md", "---\ntitle: Storm warning\nlang: en\n---\n"
          "A severe storm will hit the coast of Brittany on Friday.\n\nFerries to the islands "
          "are cancelled until Saturday.\n\nWinds of 120 km/h are expected near Brest.\n\n"
          "Schools will stay closed and residents should tie down garden furniture.\n")
    settings = load_settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i")
    build_index(settings, embedder=embedder)
    bot = Qabot(settings, open_index(settings), embedder)
    cases = [("Quand la tempête arrivera-t-elle ?", "on Friday"),
             ("Jusqu'à quand les ferries sont-ils annulés ?", "until Saturday"),
             ("Quelle sera la force du vent près de Brest ?", "120 km/h"),
             ("Les écoles seront-elles ouvertes ?", "Schools will stay closed")]
    found = []
    for question, fragment in cases:
        answer = bot.ask(question, mode=mode)
        assert answer.lang == "fr"
        found.append(answer.answered and fragment in answer.passages[0].highlight)
    # Across languages, a four-sentence article gives the weakest evidence there is: the first
    # question is refused today (its best cosine sits 0.02 above the corpus's null gap).
    assert sum(found) >= 3, found


# Not lexical: there a quote from another paragraph of the best chunk scores that chunk's BM25
# (discounted by OTHER_PARAGRAPH_FACTOR only), 0.85 of the best, above show_ratio: lexical mode
# shows the three quotes of that chunk. The meaning of each sentence is what tells them apart.
@pytest.mark.parametrize("mode", BY_MEANING)
def test_only_passages_that_answer_are_shown_by_default(bot: Qabot, mode: Mode) -> None:
    """The right quote alone; the weaker ones stay one explicit k away."""
    question = "Combien de recrues à Bougouni ?"
    shown = bot.ask(question, mode=mode)
    assert [("900 nouvelles recrues" in p.quote) for p in shown.passages] == [True]
    assert shown.held_back >= 1
    every = bot.ask(question, k=3, mode=mode)
    assert len(every.passages) == 3 and every.held_back == 0
    assert every.passages[0] == shown.passages[0]
    assert any("Abdoulaye Diop" in p.quote for p in every.passages[1:])


def test_no_answer_is_said_in_the_question_language(bot: Qabot) -> None:
    assert plain_answer(bot.ask("Quelle est la recette de la tarte tatin ?")) == (
        "Le corpus ne contient rien qui réponde à cette question.")
    assert plain_answer(bot.ask("How do I knit a scarf?")) == "Nothing in the corpus answers that."


@pytest.mark.parametrize("mode", MODES)
def test_passages_never_repeat_text(bot: Qabot, mode: Mode) -> None:
    answer = bot.ask("Que disent les autorités maliennes et américaines sur le Mali ?", k=5,
                     mode=mode)
    assert len(answer.passages) == 5
    spans = sorted((p.start, p.end) for p in answer.passages)
    for (s1, e1), (s2, e2) in itertools.pairwise(spans):
        assert e1 <= s2, "two passages overlap"
    check_passages(answer)


@pytest.mark.parametrize("mode", MODES)
def test_quotes_stay_inside_one_paragraph(bot: Qabot, mode: Mode) -> None:
    answer = bot.ask("Quel ministre a reçu l'envoyé américain ?", k=3, mode=mode)
    assert len(answer.passages) == 3
    paragraphs = [p.strip() for p in ARTICLE.split("\n\n")]
    for p in answer.passages:
        text = verbatim(p.quote)
        assert "\n" not in text
        assert any(text in para for para in paragraphs)


HARBOUR = ("Le port de Kerlouan a rouvert lundi. Les pêcheurs avaient attendu trois semaines. "
           "La digue, brisée par la tempête, a été reconstruite en acier. Le maire a salué le "
           "travail des ouvriers. Les ferries reprendront samedi.")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("max_chars", "whole"), [(700, True), (120, False)])
def test_quote_widens_to_the_paragraph_as_far_as_max_quote_chars(
        tmp_path: Path, embedder: Embedder, max_chars: int, whole: bool, mode: Mode) -> None:
    write(tmp_path / "c" / "port.txt", f"Title: Kerlouan\nLang: fr\n\n{HARBOUR}\n\nAutre sujet.\n")
    settings = load_settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i",
                             max_quote_chars=max_chars)
    build_index(settings, embedder=embedder)
    bot = Qabot(settings, open_index(settings), embedder)
    best = bot.ask("En quel métal la digue a-t-elle été reconstruite ?", k=1,
                   mode=mode).passages[0]
    assert "reconstruite en acier" in best.highlight
    assert (best.quote == HARBOUR) is whole
    assert len(verbatim(best.quote)) <= max_chars
    assert verbatim(best.quote) in HARBOUR


@pytest.mark.parametrize("mode", MODES)
def test_each_paragraph_of_a_chunk_can_be_quoted(tmp_path: Path, embedder: Embedder,
                                                 mode: Mode) -> None:
    market = "La nouvelle criée de Kerlouan ouvrira en septembre, à côté du port."
    write(tmp_path / "c" / "port.txt", f"Title: Kerlouan\nLang: fr\n\n{HARBOUR}\n\n{market}\n")
    settings = load_settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i")
    assert build_index(settings, embedder=embedder).chunks == 1
    bot = Qabot(settings, open_index(settings), embedder)
    answer = bot.ask("Quand le port et la criée de Kerlouan ouvrent-ils ?", k=2, mode=mode)
    assert sorted(verbatim(p.quote) for p in answer.passages) == sorted([HARBOUR, market])


def test_k_limits_the_passages(bot: Qabot) -> None:
    assert len(bot.ask("Stevens Mali Bamako terrorisme", k=1).passages) == 1


def test_json_shape(bot: Qabot) -> None:
    data = bot.ask("Quel ministre a reçu l'envoyé américain ?").to_json()
    assert set(data) == {"question", "answered", "passages", "held_back", "window", "source",
                         "outside_window"}
    assert (data["window"], data["source"], data["outside_window"]) == (None, None, False)
    assert set(data["passages"][0]) == {"quote", "highlight", "title", "date", "source", "url",
                                        "path", "score", "also_reported_by", "update_of",
                                        "outside_window"}


def test_empty_and_huge_questions_are_refused_clearly(bot: Qabot) -> None:
    with pytest.raises(QabotError, match="the question is empty"):
        bot.ask("   ")
    with pytest.raises(QabotError, match="ask in at most"):
        bot.ask("Mali " * 1000)


@pytest.mark.parametrize("mode", MODES)
def test_multi_document_corpus_cites_the_right_article(tmp_path: Path, embedder: Embedder,
                                                       mode: Mode) -> None:
    write(tmp_path / "c" / "mali.txt", ARTICLE)
    write(tmp_path / "c" / "weather.md", "---\ntitle: Storm warning\ndate: 2025-08-01\n"
          "source: Met Office\nurl: https://example.org/storm\nlang: en\n---\n"
          "A severe storm will hit the coast of Brittany on Friday. Winds of 120 km/h are "
          "expected near Brest. Ferries to the islands are cancelled until Saturday.\n")
    write(tmp_path / "c" / "feed.jsonl",
          '{"id": "fr-velo", "title": "Tour de France", "lang": "fr", "text": "Le Tour de '
          'France partira de Lille en 2025. La première étape fera 185 kilomètres."}\n')
    settings = load_settings(corpus_dir=tmp_path / "c", index_dir=tmp_path / "i")
    summary = build_index(settings, embedder=embedder)
    assert summary.documents == 3
    bot = Qabot(settings, open_index(settings), embedder)
    storm = bot.ask("How strong will the winds be near Brest?", mode=mode)
    assert storm.passages[0].citation.title == "Storm warning"
    assert storm.passages[0].citation.url == "https://example.org/storm"
    assert "120 km/h" in storm.passages[0].highlight
    tour = bot.ask("D'où part le Tour de France ?", mode=mode)
    assert tour.passages[0].citation.doc_id == "fr-velo"
    assert "Lille" in tour.passages[0].highlight
