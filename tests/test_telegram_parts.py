"""The Telegram front end's parts on their own: message formatting under Telegram's limits, the
allowlist and rate limiter's memory, and the redaction of secrets from logs."""

from __future__ import annotations

import io
import logging
import re
import threading
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qabot.frontends.redact import Redactor
from qabot.frontends.telegram.format import TELEGRAM_LIMIT, answer_messages, passage_html
from qabot.frontends.telegram.limits import Allowlist, RateLimiter
from qabot.records import Answer, Citation, Passage
from qabot.timeframe import Window


def _passage(quote: str, at: int, highlight: str, **citation: str) -> Passage:
    fields = {"title": "Titre", "date": "2025-07-22", "source": "Le Journal",
              "url": "https://example.org/a", "path": "a.txt", "doc_id": "a", **citation}
    return Passage(quote=quote, highlight=highlight, citation=Citation(**fields), score=0.5,
                   start=0, end=len(quote), highlight_at=at)


class _Tags(HTMLParser):
    """Checks that tags are balanced and collects the text inside <b>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.bold = ""

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag

    def handle_data(self, data: str) -> None:
        if "b" in self.open:
            self.bold += data


def _html_of(p: Passage) -> str:
    """passage_html, run where a hang fails the test instead of stalling the run."""
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(passage_html(p)), daemon=True)
    worker.start()
    worker.join(10)
    assert result, "passage_html did not return"
    return result[0]


@pytest.mark.parametrize("field", ["title", "source", "url", "path", "date"])
@pytest.mark.parametrize("filler", ["x", "&", "é\"<"])
def test_absurd_citations_still_fit_one_message(field: str, filler: str) -> None:
    huge = filler * 6000
    value = "https://example.org/" + huge if field == "url" else huge
    extra = {"url": ""} if field == "path" else {}  # the file shows when there is no URL
    sentence = "Le ministre a reçu l'envoyé américain à Bamako."
    quote = f"Avant. {sentence} Après."
    html = _html_of(_passage(quote, 7, sentence, **{field: value, **extra}))
    assert len(html) <= TELEGRAM_LIMIT
    tags = _Tags()
    tags.feed(html)
    assert tags.open == []
    assert tags.bold == sentence  # the quote itself is whole: the citation gave way


@pytest.mark.parametrize("filler", ["x", "\"", "é&<"])
def test_story_notes_and_the_window_line_fit_too(filler: str) -> None:
    """"Also reported by" lists ten articles whose names escape to six times their length."""
    sentence = "Le ministre a reçu l'envoyé américain à Bamako."
    quote = "Avant. " + sentence + " Après. " * 200
    others = tuple(Citation(filler * 300, "2025-07-2" + str(i % 10), filler * 300, None,
                            f"o{i}.txt", f"o{i}", "2025-07-23") for i in range(10))
    p = replace(_passage(quote, 7, sentence), also=others, update_of=others[0])
    answer = Answer("q", True, "fr", [p] * 3, window=Window(None, None, filler * 5000),
                    source=filler * 3000, outside_window=True)
    messages = answer_messages(answer)
    assert messages and all(len(m) <= TELEGRAM_LIMIT for m in messages)
    for m in messages:
        tags = _Tags()
        tags.feed(m)
        assert tags.open == []
    assert "Aussi rapporté par" in messages[-1] and "hors de cette sélection" in messages[-1]


def test_an_overlong_quote_keeps_its_bold_sentence() -> None:
    sentence = "Les recrues & leurs formateurs sont arrivés au camp."
    before, after = "<avant> & " * 700, " & <après>" * 700
    html = _html_of(_passage(before + sentence + after, len(before), sentence))
    assert len(html) <= TELEGRAM_LIMIT
    tags = _Tags()
    tags.feed(html)
    assert tags.open == [] and tags.bold == sentence
    assert "…" in html and "&lt;avant&gt;" in html and "&lt;après&gt;" in html


def test_rate_limiter_memory_is_bounded_and_still_limits() -> None:
    now = [0.0]
    limiter = RateLimiter(2, window=60, clock=lambda: now[0], max_tracked=100)
    for user in range(10_000):
        assert limiter.wait(user) == 0
    assert len(limiter) == 100
    assert limiter.wait(1) == 0 and limiter.wait(1) == 0  # forgotten: a fresh allowance
    assert limiter.wait(1) > 0  # but a flood is still held back
    now[0] += 61
    assert limiter.wait(1) == 0


def test_allowlist_remembers_a_bounded_number_of_refusals() -> None:
    allowlist = Allowlist([7], max_tracked=50)
    assert allowlist.restricted and not Allowlist([]).restricted
    assert allowlist.allows(7, None) and allowlist.allows(None, 7) and not allowlist.allows(8, 8)
    for chat in range(1000):
        allowlist.first_refusal(chat)
    assert len(allowlist) == 50
    assert allowlist.first_refusal(999) is False  # recent ones stay silenced


def test_redaction_covers_messages_arguments_and_tracebacks_at_debug() -> None:
    token, secret = "123456789:AAHsecretPartOfTheToken-xyz", "hook_secret_value"
    stream = io.StringIO()
    logger = logging.getLogger("test.redaction")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(Redactor([token, secret]))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("POST https://api.telegram.org/bot%s/getMe", token)
        logger.debug("secret token %s", secret)
        try:
            raise RuntimeError(f"The token `{token}` was rejected by the server.")
        except RuntimeError:
            logger.exception("failed with %s", token.split(":")[1])
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert token not in logged and token.split(":")[1] not in logged and secret not in logged
    assert logged.count("<redacted>") >= 4
    assert re.search(r"RuntimeError: The token `<redacted>` was rejected", logged)
    assert "123456789" not in Redactor([token]).text(f"bot{token}/getMe")


def test_votes_stored_before_one_vote_per_answer_are_kept(tmp_path: Path) -> None:
    import sqlite3

    from qabot.frontends.telegram.feedback import FILENAME, FeedbackStore, read_counts

    # feedback.sqlite as the bot wrote it before votes were tied to an answer.
    old = sqlite3.connect(tmp_path / FILENAME)
    old.executescript(
        "CREATE TABLE feedback (id INTEGER PRIMARY KEY, time REAL NOT NULL, chat_id INTEGER "
        "NOT NULL, user_id INTEGER, question TEXT NOT NULL, answer_ids TEXT NOT NULL, vote "
        "INTEGER NOT NULL);"
        "INSERT INTO feedback VALUES (1, 0, 5, 5, 'q', '[]', 1);"
        "INSERT INTO feedback VALUES (2, 0, 5, 5, 'q', '[]', 1);")
    old.commit()
    old.close()
    store = FeedbackStore(tmp_path)
    assert store.record(answer_key="a", chat_id=5, user_id=5, question="q", answer_ids=[],
                        vote=-1)
    assert not store.record(answer_key="a", chat_id=5, user_id=5, question="q", answer_ids=[],
                            vote=1)  # the same user on the same answer: changed, not added
    assert store.record(answer_key="b", chat_id=5, user_id=5, question="q", answer_ids=[],
                        vote=-1)
    store.close()
    counts = read_counts(tmp_path)
    assert counts is not None and (counts.up, counts.down) == (3, 1)
    FeedbackStore(tmp_path).close()  # opening it again changes nothing
    assert read_counts(tmp_path) == counts
