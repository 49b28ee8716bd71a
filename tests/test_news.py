"""News-aware answers on a small dated corpus (tests/data/news): windows and filters, one story
told once, updates, recency and the digest, through the API, the CLI, the REPL and the bot."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from qabot.config import Settings, load_settings
from qabot.embedding.encoder import Embedder
from qabot.engine import Qabot
from qabot.errors import QuestionError
from qabot.frontends.messages import scope_line
from qabot.index.open import open_index
from qabot.index.store import DocumentFacts
from qabot.index.write import build_index
from qabot.records import Citation, Passage
from qabot.search.filters import Filters, source_matches, take_filter_words
from qabot.search.recency import RECENCY_WEIGHT, by_recency, recency_boost
from qabot.search.stories import one_per_story
from tests.conftest import write
from tests.fake_bot_api import FakeBotApi, callback, inline_query, message
from tests.test_cli import run
from tests.test_telegram import answer_id, run_scenario

NEWS = Path(__file__).parent / "data" / "news"
TODAY = date(2025, 7, 30)  # a Wednesday: "la semaine dernière" is 21-27 July
RECRUITS = "Combien de recrues ont commencé leur formation à Bougouni ?"
EXTENSION = "De combien de mois la formation des recrues a-t-elle été prolongée ?"
KAYES = "Qu'a fait l'armée à Kayes ?"
DAM = "Combien d'hectares le barrage de Taoussa doit-il irriguer ?"


@pytest.fixture(scope="module")
def news_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    root = tmp_path_factory.mktemp("news")
    shutil.copytree(NEWS, root / "corpus")
    settings = load_settings(corpus_dir=root / "corpus", index_dir=root / "index", today=TODAY)
    build_index(settings, embedder=embedder)
    return settings


@pytest.fixture(scope="module")
def news(news_settings: Settings, embedder: Embedder) -> Qabot:
    return Qabot(news_settings, open_index(news_settings), embedder)


def story_of(bot: Qabot, path: str) -> str:
    (c,) = [c for c in bot.sources() if c.path == path]
    assert c.story is not None
    return c.story


# -- windows and filters ---------------------------------------------------------------------

def test_a_time_in_the_question_limits_the_articles_and_is_said(news: Qabot) -> None:
    answer = news.ask(f"{RECRUITS[:-2]} la semaine dernière ?")
    assert answer.answered and not answer.outside_window
    assert answer.window is not None
    assert (answer.window.since, answer.window.until) == (date(2025, 7, 21), date(2025, 7, 27))
    assert answer.window.text == "la semaine dernière"
    assert "900 nouvelles recrues" in answer.passages[0].quote
    assert all("2025-07-21" <= (p.citation.published or "") <= "2025-07-27"
               for p in answer.passages)
    assert answer.to_json()["window"] == {"since": "2025-07-21", "until": "2025-07-27",
                                          "text": "la semaine dernière"}


def test_nothing_in_the_window_says_so_and_answers_from_outside(news: Qabot) -> None:
    answer = news.ask("Qu'a fait l'armée à Kayes hier ?")
    assert answer.window is not None and answer.window.since == date(2025, 7, 29)
    assert answer.outside_window and answer.answered
    assert "Kayes" in answer.passages[0].quote
    data = answer.to_json()
    assert data["outside_window"] is True
    assert all(p["outside_window"] for p in data["passages"])


def test_undated_articles_answer_only_questions_without_a_time(news: Qabot) -> None:
    plain = news.ask(DAM)
    assert plain.window is None and not plain.outside_window
    assert plain.passages[0].citation.path == "barrage-sans-date.txt"
    timed = news.ask(f"{DAM[:-2]} en juillet 2025 ?")
    assert scope_line(timed) == ("Aucun article publié en juillet 2025 ne répond à cette "
                                 "question ; voici la meilleure réponse parmi les autres "
                                 "articles :")  # the words are not said twice
    assert timed.outside_window  # the undated article is outside every window...
    assert timed.passages[0].citation.path == "barrage-sans-date.txt"  # ...but not lost


def test_an_english_question_names_its_window_in_english(news: Qabot) -> None:
    answer = news.ask("How much gold did Mali produce last month?")
    assert answer.lang == "en" and not answer.outside_window
    assert (answer.window.since, answer.window.until) == (date(2025, 6, 1), date(2025, 6, 30))
    assert answer.passages[0].citation.source == "Reuters"


def test_explicit_filters_since_until_and_source(news: Qabot) -> None:
    only_rfi = news.ask(KAYES, filters=Filters(source="rfi"))
    assert not only_rfi.outside_window
    assert {p.citation.source for p in only_rfi.passages} == {"RFI"}
    # Maliweb's article is an exact copy of RFI's: found through the text indexed once, and
    # cited from the copy, the one asked for.
    by_host = news.ask(KAYES, filters=Filters(source="maliweb.example"))
    assert not by_host.outside_window
    assert by_host.passages[0].citation.source == "Maliweb"
    assert [c.source for c in by_host.passages[0].also] == ["RFI"]
    copy_day = news.ask(KAYES, filters=Filters(since=date(2025, 7, 11),
                                               until=date(2025, 7, 11)))
    assert not copy_day.outside_window and copy_day.passages[0].citation.source == "Maliweb"
    assert news.ask(KAYES, filters=Filters(source="lemonde")).outside_window
    early = news.ask(RECRUITS, filters=Filters(until=date(2025, 1, 1)))
    assert not early.outside_window
    assert early.passages[0].citation.path == "recrues-2024.txt"
    assert early.window is not None and early.window.until == date(2025, 1, 1)
    late = news.ask(RECRUITS, filters=Filters(since=date(2025, 7, 24)))
    assert all(p.citation.published >= "2025-07-24" for p in late.passages)  # type: ignore[operator]


def test_impossible_windows_are_one_line_and_nothing_anywhere_is_not_outside(
        news: Qabot) -> None:
    with pytest.raises(QuestionError, match="since 2025-08-01 is after until 2025-07-01"):
        news.ask(KAYES, filters=Filters(since=date(2025, 8, 1), until=date(2025, 7, 1)))
    with pytest.raises(QuestionError, match="'hier'"):
        news.ask("Qu'a fait l'armée à Kayes hier ?", filters=Filters(since=date(2026, 1, 1)))
    # Two days that never meet are the question's content, not a window.
    both = news.ask("Qu'a fait l'armée le 14 juillet et le 15 août ?")
    assert both.window is None
    nothing = news.ask("Quelle est la recette de la tarte tatin la semaine dernière ?")
    assert not nothing.answered and not nothing.outside_window
    assert nothing.window is not None and nothing.window.text == "la semaine dernière"


def test_a_malformed_url_in_the_corpus_does_not_break_a_source_filter() -> None:
    broken = DocumentFacts(1, "a", "RFI", "http://[abc", None, None)
    assert source_matches(broken, "rfi") and not source_matches(broken, "monde")


def test_filter_words_in_a_message() -> None:
    f, rest = take_filter_words('since:2025-07-01 source:"Le Monde" qui a gagné ?')
    assert (f.since, f.until, f.source, rest) == (date(2025, 7, 1), None, "Le Monde",
                                                  "qui a gagné ?")
    f, rest = take_filter_words("depuis:2025-07-01 jusqu'au:2025-07-31 quoi de neuf ?")
    assert (f.since, f.until, rest) == (date(2025, 7, 1), date(2025, 7, 31), "quoi de neuf ?")
    with pytest.raises(QuestionError, match="since:hier"):
        take_filter_words("since:hier qui ?")
    # Only before the question, the colon against the word: else it is the question's text.
    for text in ("Quelle est la source : le ministère ?", "qui a gagné since:2025-07-01 ?",
                 "Quel bilan depuis : janvier ?"):
        assert take_filter_words(text) == (Filters(), text)


# -- one story told once -----------------------------------------------------------------------

def test_versions_of_one_story_are_grouped_and_other_stories_are_not(news: Qabot) -> None:
    recruits = story_of(news, "afp-bougouni-recrues.txt")
    assert story_of(news, "journal-du-mali-bougouni.md") == recruits  # another outlet's edit
    assert story_of(news, "afp-bougouni-mise-a-jour.txt") == recruits  # the update
    kayes = story_of(news, "rfi-kayes-attaque.txt")
    assert story_of(news, "copie-kayes-attaque.txt") == kayes  # an exact copy
    others = {recruits, kayes, story_of(news, "recrues-2024.txt"),
              story_of(news, "reuters-gold.txt"), story_of(news, "barrage-sans-date.txt")}
    assert len(others) == 5  # same topic (recruits, Mali), different stories: apart


def test_an_exact_copy_is_indexed_once(news: Qabot) -> None:
    store = news.index.store
    assert store.is_copy("copie-kayes-attaque.txt")
    assert store.document_sentences("copie-kayes-attaque.txt") == []
    assert not store.is_copy("rfi-kayes-attaque.txt")


def test_a_story_is_shown_once_from_its_first_article_with_the_others_listed(
        news: Qabot) -> None:
    answer = news.ask(RECRUITS, k=5)
    recruits = [p for p in answer.passages if "900 nouvelles recrues" in p.quote]
    assert len(recruits) == 1
    first = recruits[0]
    assert first.citation.source == "AFP" and first.citation.published == "2025-07-22"
    assert first.update_of is None
    assert [(c.source, c.published) for c in first.also] == [
        ("Journal du Mali", "2025-07-23"), ("AFP", "2025-07-25")]
    data = answer.to_json()["passages"][answer.passages.index(first)]
    assert data["also_reported_by"][0] == {
        "source": "Journal du Mali", "date": "2025-07-23",
        "title": "Bougouni : le camp militaire accueille 900 jeunes recrues",
        "url": "https://journaldumali.example/bougouni-recrues"}
    kayes = news.ask(KAYES)
    assert kayes.passages[0].citation.source == "RFI"  # the copy came a day later
    assert [c.source for c in kayes.passages[0].also] == ["Maliweb"]


def test_an_update_that_answers_better_wins_and_says_it_updates(news: Qabot) -> None:
    answer = news.ask(EXTENSION)
    top = answer.passages[0]
    assert "prolongée de deux mois" in top.quote
    assert top.citation.path == "afp-bougouni-mise-a-jour.txt"
    assert top.update_of is not None and top.update_of.published == "2025-07-22"
    assert answer.to_json()["passages"][0]["update_of"]["date"] == "2025-07-22"


def kayes_with_a_copy(tmp_path: Path, embedder: Embedder) -> Settings:
    """An index of the Kayes article, an exact copy of it, and an unrelated one."""
    corpus = tmp_path / "corpus"
    for name in ("rfi-kayes-attaque.txt", "copie-kayes-attaque.txt", "reuters-gold.txt"):
        write(corpus / name, (NEWS / name).read_text(encoding="utf-8"))
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index", today=TODAY)
    build_index(settings, embedder=embedder)
    return settings


def test_a_copy_is_indexed_in_its_own_right_when_its_original_changes(
        tmp_path: Path, embedder: Embedder) -> None:
    """The copy arrives in a later update, so it sits in another segment than its original."""
    corpus = tmp_path / "corpus"
    for name in ("rfi-kayes-attaque.txt", "reuters-gold.txt"):
        write(corpus / name, (NEWS / name).read_text(encoding="utf-8"))
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index", today=TODAY)
    build_index(settings, embedder=embedder)
    write(corpus / "copie-kayes-attaque.txt",
          (NEWS / "copie-kayes-attaque.txt").read_text(encoding="utf-8"))
    assert build_index(settings, embedder=embedder).segments == 2
    assert open_index(settings).store.is_copy("copie-kayes-attaque.txt")
    original = (NEWS / "rfi-kayes-attaque.txt").read_text(encoding="utf-8")
    write(corpus / "rfi-kayes-attaque.txt", original.replace("mercredi", "jeudi"))
    summary = build_index(settings, embedder=embedder)
    assert summary.updated == 1 and summary.embedded > 0
    bot = Qabot(settings, open_index(settings), embedder)
    assert not bot.index.store.is_copy("copie-kayes-attaque.txt")
    assert bot.index.store.document_sentences("copie-kayes-attaque.txt")  # its own text
    answer = bot.ask("L'armée a-t-elle repoussé mercredi une attaque à Kayes ?")
    assert "repoussé mercredi" in answer.passages[0].quote  # the copy's words, not the edit's


def test_grouping_is_incremental_and_a_copy_takes_over_when_its_original_goes(
        tmp_path: Path, embedder: Embedder) -> None:
    settings = kayes_with_a_copy(tmp_path, embedder)
    corpus = settings.corpus_dir
    edited = (NEWS / "rfi-kayes-attaque.txt").read_text(encoding="utf-8").replace(
        "Source: RFI", "Source: Studio Tamani").replace(
        "mercredi", "dans la nuit de mardi à mercredi")
    write(corpus / "tamani-kayes.txt", edited)
    summary = build_index(settings, embedder=embedder)
    assert summary.added == 1 and summary.embedded == 3  # only the new article's sentences
    bot = Qabot(settings, open_index(settings), embedder)
    assert story_of(bot, "tamani-kayes.txt") == story_of(bot, "rfi-kayes-attaque.txt")
    strict = settings.model_copy(update={"duplicate_threshold": 0.99})
    regrouped = build_index(strict, embedder=embedder)  # a new threshold: grouped again...
    assert regrouped.regrouped and regrouped.embedded == 0  # ...nothing re-embedded
    bot = Qabot(strict, open_index(strict), embedder)
    assert story_of(bot, "tamani-kayes.txt") != story_of(bot, "rfi-kayes-attaque.txt")
    assert story_of(bot, "copie-kayes-attaque.txt") == story_of(bot, "rfi-kayes-attaque.txt")
    assert build_index(settings, embedder=embedder).embedded == 0
    (corpus / "rfi-kayes-attaque.txt").unlink()
    build_index(settings, embedder=embedder)
    bot = Qabot(settings, open_index(settings), embedder)
    assert not bot.index.store.is_copy("copie-kayes-attaque.txt")
    answer = bot.ask(KAYES)
    assert answer.answered and answer.passages[0].citation.source in {"Maliweb",
                                                                      "Studio Tamani"}


# -- recency -----------------------------------------------------------------------------------

def _passage(score: float, published: str | None) -> Passage:
    citation = Citation("t", published, None, None, "p", f"d{published}", published)
    return Passage("q", "q", citation, score, 0, 1)


def test_recency_reorders_only_near_ties() -> None:
    old_close = _passage(0.700, "2020-01-01")
    new_close = _passage(0.695, "2025-07-29")
    assert [p.citation.published for p in by_recency([old_close, new_close], TODAY, 30)] == [
        "2025-07-29", "2020-01-01"]
    old_clear = _passage(0.700 + RECENCY_WEIGHT + 1e-3, "2020-01-01")
    assert [p.citation.published for p in by_recency([old_clear, new_close], TODAY, 30)] == [
        "2020-01-01", "2025-07-29"]
    undated = _passage(0.700, None)
    assert by_recency([undated, new_close], TODAY, 0) == [undated, new_close]  # 0: off


def test_the_prior_adds_its_boost_and_no_more_and_zero_turns_it_off(
        news_settings: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QABOT_RECENCY_HALF_LIFE_DAYS", "0")
    assert load_settings().recency_half_life_days == 0
    off = Qabot(news_settings.model_copy(update={"recency_half_life_days": 0.0}),
                open_index(news_settings), embedder)
    on = Qabot(news_settings, open_index(news_settings), embedder)  # 30 days
    question = "Quelles recrues ont été formées dans une école ou un camp militaire ?"
    before = {(p.citation.doc_id, p.start): p for p in off.ask(question, k=5).passages}
    boosts = []
    for p in on.ask(question, k=5).passages:
        same = before.get((p.citation.doc_id, p.start))
        if same is not None:
            # The boost of the article the passage was found in: the one cited, or a later
            # one of its story that holds the same words.
            members = on.index.store.story_members(p.citation.story or "")
            assert any(p.score - same.score == pytest.approx(
                recency_boost(m.published, TODAY, 30), abs=1e-9) for m in members)
            boosts.append(p.score - same.score)
    assert max(boosts) > 0.01  # last week's articles: most of the 0.02
    assert all(b <= RECENCY_WEIGHT for b in boosts)


# -- the digest --------------------------------------------------------------------------------

def test_latest_lists_stories_newest_first_each_once(news: Qabot) -> None:
    stories = news.latest(10)
    assert [s.citation.path for s in stories] == [
        "afp-bougouni-mise-a-jour.txt", "rfi-kayes-attaque.txt", "reuters-gold.txt",
        "recrues-2024.txt", "barrage-sans-date.txt"]
    assert stories[0].first_sentence.startswith("Le camp militaire de Bougouni")
    assert [c.source for c in stories[0].also] == ["AFP", "Journal du Mali"]
    assert [s.citation.path for s in news.latest(2)] == stories_paths(stories[:2])
    assert [s.citation.path for s in news.latest(10, date(2025, 7, 1))] == [
        "afp-bougouni-mise-a-jour.txt", "rfi-kayes-attaque.txt"]


def stories_paths(stories: list[Any]) -> list[str]:
    return [s.citation.path for s in stories]


def test_cli_ask_window_json_latest_and_bad_dates(news_settings: Settings) -> None:
    env = {"QABOT_INDEX_DIR": str(news_settings.index_dir),
           "QABOT_CORPUS_DIR": str(news_settings.corpus_dir), "QABOT_TODAY": "2025-07-30"}
    out = run("ask", "--json", "What happened in Kayes since July 1?", env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["window"] == {"since": "2025-07-01", "until": None, "text": "since July 1"}
    assert data["passages"][0]["source"] == "RFI"
    assert data["passages"][0]["also_reported_by"][0]["source"] == "Maliweb"
    out = run("ask", "--source", "reuters", "--until", "2025-06-30",
              "Combien d'or le Mali a-t-il produit ?", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Articles publiés jusqu'au 30 juin 2025 de « reuters » :")
    assert "Reuters" in out.stdout
    out = run("latest", "2", env={**env, "LANG": "fr_FR.UTF-8"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Dernières nouvelles (2) :")
    assert "[1] Mali : la formation des recrues de Bougouni prolongée — 2025-07-25 — AFP" \
        in out.stdout
    assert "Aussi rapporté par : AFP (2025-07-22), Journal du Mali (2025-07-23)" in out.stdout
    latest = json.loads(run("latest", "--json", "--since", "2025-07-01", env=env).stdout)
    assert [s["source"] for s in latest["stories"]] == ["AFP", "RFI"]
    bad = run("ask", "--since", "July", "Qui ?", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr


def test_repl_filters_and_latest(news_settings: Settings) -> None:
    env = {"QABOT_INDEX_DIR": str(news_settings.index_dir),
           "QABOT_CORPUS_DIR": str(news_settings.corpus_dir), "QABOT_TODAY": "2025-07-30"}
    lines = [":latest 2", ":source rfi", KAYES, ":source off", ":more", ":more",
             ":since 2026-01-01", KAYES, ":since nope", ":help"]
    out = run("repl", env=env, stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Latest stories (2):" in text
    assert "Source: rfi." in text
    assert "Articles de « rfi » :" in text
    # :more pages the question as it was asked, from RFI only: its second paragraph, then
    # nothing more.
    more = text.split("Source: any.")[1].split("Since: 2026-01-01.")[0]
    assert "[2] Les autorités locales ont instauré un couvre-feu" in more
    assert more.strip().endswith("Pas d’autre passage pour cette question.")
    assert more.count(" — RFI — ") == 1 and more.count("[") == 1
    assert "Since: 2026-01-01." in text
    assert "Aucun article publiés depuis le 1er janvier 2026" not in text
    assert "Aucun article publiés depuis le 1er janvier 2026 ne répond" not in text
    assert "ne répond à cette question ; voici la meilleure réponse" in text
    assert "error: :since nope:" in text
    assert ":latest [N]" in text


def test_bot_latest_and_filter_words(news_settings: Settings, news: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(80, "/latest 2", lang="fr"))
        (sent,) = await api.wait_for("sendMessage", chat_id=80)
        assert sent["text"].startswith("Dernières nouvelles (2) :")
        assert "Mali : la formation des recrues de Bougouni prolongée" in sent["text"]
        assert "Aussi rapporté par : AFP (2025-07-22), Journal du Mali (2025-07-23)" \
            in sent["text"]
        api.push(message(81, "/ask source:rfi Qu'a fait l'armée à Kayes ?"))
        (sent,) = await api.wait_for("sendMessage", chat_id=81)
        assert sent["text"].startswith("<i>Articles de « rfi » :</i>")
        assert "Aussi rapporté par : Maliweb (2025-07-11)" in sent["text"]
        api.push(message(82, "/ask since:demain Qu'a fait l'armée à Kayes ?"))
        (sent,) = await api.wait_for("sendMessage", chat_id=82)
        assert sent["text"].startswith("since:demain:") and "YYYY-MM-DD" in sent["text"]
        api.push(message(83, "/latest beaucoup", lang="fr"))
        (sent,) = await api.wait_for("sendMessage", chat_id=83)
        assert sent["text"] == "Usage : /latest N, avec N de 1 à 20"
        api.push(message(84, "/help", lang="fr"))
        (sent,) = await api.wait_for("sendMessage", chat_id=84)
        assert "/latest [N]" in sent["text"] and "since:2025-07-01" in sent["text"]
        api.push(message(85, "since:2025-08-01 until:2025-07-01 Qu'a fait l'armée ?"))
        (sent,) = await api.wait_for("sendMessage", chat_id=85)
        assert sent["text"].startswith("since 2025-08-01 is after until 2025-07-01")
        # Inline results carry the same notes as answers.
        api.push(inline_query(86, "Qu'a fait l'armée à Kayes hier ?"))
        (inline,) = await api.wait_for("answerInlineQuery")
        text = inline["results"][0]["input_message_content"]["message_text"]
        assert "Aussi rapporté par : Maliweb (2025-07-11)" in text
        assert "(hors de cette sélection)" in text
        # "More" pages within the filters the question came with.
        api.push(message(87, f"/ask source:afp {RECRUITS}"))
        (first,) = await api.wait_for("sendMessage", chat_id=87)
        aid = answer_id(first)
        api.push(callback(87, f"m:{aid}"))
        pages = await api.wait_for("sendMessage", count=2, chat_id=87)
        assert "<blockquote>" in pages[1]["text"]
        for page in pages:
            cited = re.findall(r"\n— .*?, (\d{4}-\d\d-\d\d), ([^,<\n]+)", page["text"])
            assert cited and {source for _, source in cited} == {"AFP"}, page["text"]

    run_scenario(news_settings, news, scenario)


class _Story:
    """The two methods `one_per_story` reads of the index, for a story of two articles."""

    def __init__(self, texts: dict[str, str], members: list[Citation]) -> None:
        self.texts, self.members = texts, members

    def story_members(self, story: str) -> list[Citation]:
        return self.members

    def document(self, doc_id: str) -> Any:
        return type("Doc", (), {"text": self.texts[doc_id]})()


def test_a_passage_dropped_as_a_repeat_does_not_hide_the_next_one() -> None:
    """A story's second article repeats the first's paragraph (dropped) then says something
    else (kept). The repeat's words must not be taken for the next passage's: a cache keyed by
    a dropped object's id once dropped both."""
    first = "Le convoi est arrivé à Bougouni mardi soir avec neuf cents recrues à son bord."
    other = "Le ministre de la Défense a annoncé un second contingent pour la fin du mois."
    texts = {"a": first, "b": first.replace("mardi soir", "mardi") + " " + other}
    cite = {d: Citation("t", "2025-07-2" + str(i + 2), "AFP", None, f"{d}.txt", d,
                        "2025-07-2" + str(i + 2), "s") for i, d in enumerate("ab")}
    store = _Story(texts, [cite["a"], cite["b"]])

    def passage(doc: str, text: str) -> Passage:
        at = texts[doc].find(text)
        return Passage(text, text, cite[doc], 0.5, at, at + len(text))

    # (Whether the allocator hands a freed object's address to the next one varies: many
    # rounds, each with objects of its own.)
    for _ in range(200):
        shown = one_per_story([passage("a", first), passage("b", texts["b"][:len(first) - 6]),
                               passage("b", other)], store)  # type: ignore[arg-type]
        assert [p.quote for p in shown] == [first, other]
