"""The Telegram bot: the real python-telegram-bot Application and HTTP stack, the real model and
index, against a Bot API server on localhost (tests/fake_bot_api.py)."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from telegram import Update
from telegram.ext import TypeHandler

from qabot.config import Settings, load_settings
from qabot.embedding.encoder import Embedder
from qabot.engine import Qabot
from qabot.frontends.telegram.bot import build_application
from qabot.frontends.telegram.feedback import FeedbackStore
from qabot.frontends.telegram.format import TELEGRAM_LIMIT
from qabot.index.open import open_index
from qabot.index.write import build_index
from tests.conftest import CORPUS, clean_env, write
from tests.fake_bot_api import BOT_USER, TOKEN, FakeBotApi, callback, inline_query, message

RECRUITS = "Combien de recrues sont arrivées au camp de Bougouni ?"
MINISTER = "Quel ministre a reçu l'envoyé américain ?"
TRAINING = "How long is the training of the recruits at Bougouni?"

Scenario = Callable[[FakeBotApi, Any], Awaitable[None]]


@pytest.fixture(scope="module")
def tg_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """The shipped article, one article holding HTML-like text, and one with long paragraphs."""
    root = tmp_path_factory.mktemp("tg")
    corpus = root / "corpus"
    write(corpus / "mali.txt", (CORPUS / "000_d5078016723e65e9.txt").read_text())
    write(corpus / "markup.txt", "Title: Tarifs <b>spéciaux</b> & TVA\nDate: 2025-05-01\n"
          "URL: https://example.org/tarifs?a=1&b=2\nSource: Le Journal\nLang: fr\n\n"
          "Le tarif réduit du musée passe à 5 € <b>seulement</b> & sans TVA pour les étudiants. "
          "Il entre en vigueur le 1er juin.\n")
    elephants = []
    for i in range(8):
        sentences = [f"Les éléphants du parc de Zakouma, paragraphe {i}, phrase {j}, vivent en "
                     f"troupeaux et parcourent la savane du Tchad chaque saison sèche, suivis "
                     f"par les gardes du parc qui comptent les éléphants depuis des années "
                     f"pour protéger ces éléphants des braconniers." for j in range(3)]
        elephants.append(" ".join(sentences))
    write(corpus / "zakouma.md", "---\ntitle: Les éléphants de Zakouma\ndate: 2025-03-03\n"
          "lang: fr\n---\n" + "\n\n".join(elephants) + "\n")
    settings = load_settings(corpus_dir=corpus, index_dir=root / "index")
    build_index(settings, embedder=embedder)
    return settings


@pytest.fixture(scope="module")
def tg_qabot(tg_index: Settings, embedder: Embedder) -> Qabot:
    return Qabot(tg_index, open_index(tg_index), embedder)


def track_updates(app: Any) -> None:
    """Record each update once every handler is done with it (a handler group after the
    bot's own), so a test can wait for "handled" instead of sleeping."""
    done: dict[int, asyncio.Event] = app.bot_data.setdefault("handled", {})

    async def record(update: Update, context: Any) -> None:
        done.setdefault(update.update_id, asyncio.Event()).set()

    app.add_handler(TypeHandler(Update, record), group=1)


async def handled(app: Any, update_id: int, timeout: float = 60.0) -> None:
    """Wait until the bot has finished with update `update_id`."""
    done: dict[int, asyncio.Event] = app.bot_data["handled"]
    await asyncio.wait_for(done.setdefault(update_id, asyncio.Event()).wait(), timeout)


def run_scenario(settings: Settings, qabot: Qabot, scenario: Scenario, **overrides: Any) -> None:
    """Start the fake Bot API and the real Application (long polling), run `scenario`."""

    async def main() -> None:
        api = FakeBotApi()
        base = await api.start()
        s = settings.model_copy(update={"telegram_token": SecretStr(TOKEN),
                                        "telegram_api_url": base, **overrides})
        app = build_application(s, Qabot(s, qabot.index, qabot.embedder),
                                FeedbackStore(s.index_dir))
        track_updates(app)
        try:
            async with app:
                await app.start()
                await app.updater.start_polling(poll_interval=0.0, timeout=1)
                try:
                    await scenario(api, app)
                finally:
                    await app.updater.stop()
                    await app.stop()
            # Everything the bot sent would have been accepted by Telegram.
            assert not api.refused, [(c.method, c.refused) for c in api.refused]
        finally:
            await api.stop()

    asyncio.run(main())


def answer_id(sent: dict[str, Any]) -> str:
    buttons = sent["reply_markup"]["inline_keyboard"][0]
    return str(buttons[0]["callback_data"]).split(":")[1]


def test_private_question_gets_quote_citation_and_buttons(tg_index: Settings,
                                                          tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(1, RECRUITS))
        (action,) = await api.wait_for("sendChatAction", chat_id=1)
        assert action["action"] == "typing"
        (sent,) = await api.wait_for("sendMessage", chat_id=1)
        assert sent["parse_mode"] == "HTML"
        text = sent["text"]
        assert text.startswith("<blockquote>")
        assert "<b>Ce mardi 22 juillet, 900 nouvelles recrues" in text
        assert "— Mali : l’envoyé américain pour le Sahel à Bamako" in text
        assert "2025-07-22" in text
        labels = [b["text"] for b in sent["reply_markup"]["inline_keyboard"][0]]
        assert labels == ["Plus", "👍", "👎"]

    run_scenario(tg_index, tg_qabot, scenario)


def test_start_speaks_the_users_language(tg_index: Settings, tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(3, "/start", lang="fr"))
        api.push(message(4, "/start", lang="en-GB"))
        (fr,) = await api.wait_for("sendMessage", chat_id=3)
        (en,) = await api.wait_for("sendMessage", chat_id=4)
        assert fr["text"].startswith("Je réponds aux questions sur 3 article(s)")
        assert "@qabot_test_bot" in fr["text"]
        assert en["text"].startswith("I answer questions about 3 news article(s)")

    run_scenario(tg_index, tg_qabot, scenario)


def test_corpus_text_and_urls_are_escaped(tg_index: Settings, tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(5, "Quel est le tarif réduit du musée pour les étudiants ?"))
        (sent,) = await api.wait_for("sendMessage", chat_id=5)
        text = sent["text"]
        assert "5 € &lt;b&gt;seulement&lt;/b&gt; &amp; sans TVA" in text
        assert '<a href="https://example.org/tarifs?a=1&amp;b=2">' in text
        assert "Tarifs &lt;b&gt;spéciaux&lt;/b&gt; &amp; TVA</a>" in text
        assert text.count("<b>") == text.count("</b>") == 1

    run_scenario(tg_index, tg_qabot, scenario)


def test_long_answers_are_split_between_passages(tg_index: Settings, tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        asked = api.push(message(6, "Que font les gardes du parc avec les éléphants de Zakouma ?"))
        await handled(app, asked)
        sent = api.sent("sendMessage", chat_id=6)
        assert len(sent) >= 2
        for s in sent:
            assert len(s["text"]) <= TELEGRAM_LIMIT
            assert s["text"].count("<blockquote>") == s["text"].count("</blockquote>") >= 1
            assert s["text"].count("<b>") == s["text"].count("</b>")
        assert "reply_markup" not in sent[0]  # the buttons close the answer
        assert "reply_markup" in sent[-1]

    run_scenario(tg_index, tg_qabot, scenario, top_k=8, max_quote_chars=2000)


def test_groups_answer_only_when_addressed(tg_index: Settings, tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        chatter = api.push(message(-100, MINISTER, user_id=7))  # not for the bot
        api.push(message(-101, f"@{BOT_USER['username']} {MINISTER}", user_id=8))
        api.push(message(-102, MINISTER, user_id=9, reply_to_bot=True))
        api.push(message(-103, f"/ask {MINISTER}", user_id=10))
        api.push(message(-104, "/ask", user_id=11))
        for chat in (-101, -102, -103):
            (sent,) = await api.wait_for("sendMessage", chat_id=chat)
            assert "Abdoulaye Diop" in sent["text"]
        (usage,) = await api.wait_for("sendMessage", chat_id=-104)
        assert usage["text"] == "Usage : /ask votre question"
        await handled(app, chatter)
        assert api.sent("sendMessage", chat_id=-100) == []

    run_scenario(tg_index, tg_qabot, scenario)


def test_allowlist_refuses_others_once_without_corpus_content(tg_index: Settings,
                                                             tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(20, MINISTER))
        api.push(message(21, MINISTER))
        (ok,) = await api.wait_for("sendMessage", chat_id=20)
        assert "Abdoulaye Diop" in ok["text"]
        (refused,) = await api.wait_for("sendMessage", chat_id=21)
        assert refused["text"] == "Désolé, ce robot est privé."
        again = api.push(message(21, RECRUITS))
        api.push(inline_query(21, MINISTER))
        (inline,) = await api.wait_for("answerInlineQuery")
        assert inline["results"] == []
        await handled(app, again)
        assert len(api.sent("sendMessage", chat_id=21)) == 1  # refused once, then silence
        # Inline results are cached by Telegram for everyone typing the same query unless
        # personal: behind an allowlist, an allowed user's results must not reach others.
        api.push(inline_query(20, MINISTER))
        allowed = (await api.wait_for("answerInlineQuery", count=2))[1]
        assert allowed["results"] and allowed["is_personal"] is True

    run_scenario(tg_index, tg_qabot, scenario, telegram_allowed_chats=[20])


def test_rate_limit_is_per_user(tg_index: Settings, tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        for _ in range(3):
            api.push(message(30, MINISTER))
        api.push(message(31, MINISTER))
        sent = await api.wait_for("sendMessage", count=3, chat_id=30)
        limited = [s for s in sent if s["text"].startswith("Vous posez vos questions plus vite")]
        assert len(limited) == 1
        assert "attendez" in limited[0]["text"]
        (other,) = await api.wait_for("sendMessage", chat_id=31)
        assert "Abdoulaye Diop" in other["text"]

    run_scenario(tg_index, tg_qabot, scenario, telegram_rate_limit=2)


def test_first_reply_holds_back_weak_passages_and_more_shows_them(tg_index: Settings,
                                                                   tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(41, "Combien de recrues à Bougouni ?"))
        (first,) = await api.wait_for("sendMessage", chat_id=41)
        assert first["text"].count("<blockquote>") == 1
        assert "900 nouvelles recrues" in first["text"]
        api.push(callback(41, f"m:{answer_id(first)}"))
        sent = await api.wait_for("sendMessage", count=2, chat_id=41)
        assert "900 nouvelles recrues" not in sent[1]["text"]
        assert "Abdoulaye Diop" in sent[1]["text"]

    run_scenario(tg_index, tg_qabot, scenario)


def labels(markup: dict[str, Any] | None) -> list[str]:
    return [b["text"] for row in (markup or {}).get("inline_keyboard", []) for b in row]


def test_more_pages_and_one_vote_per_user(tg_index: Settings, tg_qabot: Qabot) -> None:
    before = FeedbackStore(tg_index.index_dir).counts()

    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(40, "Quels domaines de coopération entre les Etats-Unis et le Mali ?"))
        (first,) = await api.wait_for("sendMessage", chat_id=40)
        assert labels(first["reply_markup"]) == ["Plus", "👍", "👎"]
        aid = answer_id(first)
        api.push(callback(40, f"m:{aid}"))
        sent = await api.wait_for("sendMessage", count=2, chat_id=40)
        assert sent[1]["text"] != first["text"]
        assert "<blockquote>" in sent[1]["text"]
        # "More" moves to the new page; the votes stay on the first answer, once.
        assert labels(sent[1]["reply_markup"]) == ["Plus"]
        (moved,) = await api.wait_for("editMessageReplyMarkup", chat_id=40)
        assert labels(moved["reply_markup"]) == ["👍", "👎"]
        api.push(callback(40, f"v:{aid}:1"))
        edits = await api.wait_for("editMessageReplyMarkup", count=2, chat_id=40)
        assert labels(edits[1].get("reply_markup")) == []
        answers = await api.wait_for("answerCallbackQuery", count=2)
        assert answers[-1]["text"] == "Merci pour votre avis !"
        # The same user again (an old client still shows the buttons): the vote changes,
        # it is not counted twice. Another user in the chat has a vote of their own.
        api.push(callback(40, f"v:{aid}:-1"))
        answers = await api.wait_for("answerCallbackQuery", count=3)
        assert answers[-1]["text"] == "Votre avis sur cette réponse est modifié (un par réponse)."
        api.push(callback(40, f"v:{aid}:1", user_id=4000))
        answers = await api.wait_for("answerCallbackQuery", count=4)
        assert answers[-1]["text"] == "Merci pour votre avis !"
        api.push(callback(40, "m:999999"))
        answers = await api.wait_for("answerCallbackQuery", count=5)
        assert answers[-1]["text"] == "Cette réponse a expiré : reposez la question."

    run_scenario(tg_index, tg_qabot, scenario, top_k=1)
    counts = FeedbackStore(tg_index.index_dir).counts()
    assert (counts.up - before.up, counts.down - before.down) == (1, 1)
    import subprocess

    env = clean_env()
    env["QABOT_INDEX_DIR"] = str(tg_index.index_dir)
    stats = subprocess.run([sys.executable, "-m", "qabot", "stats"], env=env, text=True,
                           capture_output=True, check=True).stdout
    assert f"Feedback   {counts.up} 👍, {counts.down} 👎" in stats


def test_in_a_group_every_member_votes_once(tg_index: Settings, tg_qabot: Qabot) -> None:
    before = FeedbackStore(tg_index.index_dir).counts()

    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(-300, f"/ask {MINISTER}", user_id=301))
        (first,) = await api.wait_for("sendMessage", chat_id=-300)
        aid = answer_id(first)
        for n, (voter, vote) in enumerate([(302, 1), (303, -1), (302, -1)], start=1):
            api.push(callback(-300, f"v:{aid}:{vote}", user_id=voter))
            answers = await api.wait_for("answerCallbackQuery", count=n)
        assert [a["text"] for a in answers] == [
            "Merci pour votre avis !", "Merci pour votre avis !",
            "Votre avis sur cette réponse est modifié (un par réponse)."]
        # The buttons stay for the other members.
        assert api.sent("editMessageReplyMarkup", chat_id=-300) == []

    run_scenario(tg_index, tg_qabot, scenario)
    counts = FeedbackStore(tg_index.index_dir).counts()
    assert (counts.up - before.up, counts.down - before.down) == (0, 2)


def test_more_is_capped_and_rate_limited(tg_index: Settings, tg_qabot: Qabot) -> None:
    from qabot.frontends.telegram.bot import MORE_PAGES

    question = "Que font les gardes du parc avec les éléphants de Zakouma ?"

    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(45, question))
        (first,) = await api.wait_for("sendMessage", chat_id=45)
        aid, seen = answer_id(first), [first["text"]]
        for page in range(1, MORE_PAGES + 1):
            api.push(callback(45, f"m:{aid}"))
            sent = await api.wait_for("sendMessage", count=page + 1, chat_id=45)
            assert sent[page]["text"] not in seen  # a new passage each time
            seen.append(sent[page]["text"])
            # the last page allowed offers no more
            assert labels(sent[page].get("reply_markup")) == ([] if page == MORE_PAGES
                                                              else ["Plus"])
        clicked = api.push(callback(45, f"m:{aid}"))
        await handled(app, clicked)
        assert len(api.sent("sendMessage", chat_id=45)) == MORE_PAGES + 1
        assert api.sent("answerCallbackQuery")[-1]["text"] == \
            "Pas d’autre passage pour cette question."

    async def limited(api: FakeBotApi, app: Any) -> None:
        # Pages count against the rate limit like questions (here 2 a minute).
        api.push(message(46, question))
        (other,) = await api.wait_for("sendMessage", chat_id=46)
        api.push(callback(46, f"m:{answer_id(other)}"))
        await api.wait_for("sendMessage", count=2, chat_id=46)
        clicked = api.push(callback(46, f"m:{answer_id(other)}"))
        await handled(app, clicked)
        assert len(api.sent("sendMessage", chat_id=46)) == 2
        refused = api.sent("answerCallbackQuery")[-1]
        assert refused["text"].startswith("Vous posez vos questions plus vite")
        assert refused["show_alert"] is True

    run_scenario(tg_index, tg_qabot, scenario, top_k=1, telegram_rate_limit=30)
    run_scenario(tg_index, tg_qabot, limited, top_k=1, telegram_rate_limit=2)


def test_inline_mode_offers_passages_ready_to_send(tg_index: Settings, tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(inline_query(50, MINISTER))
        (answer,) = await api.wait_for("answerInlineQuery")
        results = answer["results"]
        assert results and results[0]["type"] == "article"
        assert results[0]["title"].startswith("Mali : l’envoyé américain")
        assert "Abdoulaye Diop" in results[0]["description"]
        content = results[0]["input_message_content"]
        assert content["parse_mode"] == "HTML"
        assert "<b>Dans ce cadre, le ministre malien" in content["message_text"]
        assert "2025-07-22" in content["message_text"]
        api.push(inline_query(51, "Quelle est la recette de la tarte tatin ?"))
        answers = await api.wait_for("answerInlineQuery", count=2)
        assert answers[1]["results"] == []
        assert answers[1]["button"]["text"].startswith("Le corpus ne contient rien")
        api.push(inline_query(52, "ab"))  # still typing
        answers = await api.wait_for("answerInlineQuery", count=3)
        assert answers[2]["results"] == []
        assert answers[2]["button"] == {"text": "Comment me poser une question",
                                        "start_parameter": "help"}

    run_scenario(tg_index, tg_qabot, scenario)


def test_off_topic_sticker_and_overlong_questions(tg_index: Settings, tg_qabot: Qabot) -> None:
    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(60, "How do I knit a scarf?", lang="fr"))
        sticker = {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 1,
                   "height": 1, "is_animated": False, "is_video": False}
        api.push(message(61, "", lang="en", sticker=sticker))
        api.push(message(62, "Mali " * 200, lang="en"))
        (nothing,) = await api.wait_for("sendMessage", chat_id=60)
        assert nothing["text"] == "Nothing in the corpus answers that."  # the question's language
        assert "reply_markup" not in nothing
        (hint,) = await api.wait_for("sendMessage", chat_id=61)
        assert hint["text"] == "I only read text: send me your question as a message."
        (long,) = await api.wait_for("sendMessage", chat_id=62)
        assert long["text"] == "That question is 999 characters long; please ask in at most 500."

    run_scenario(tg_index, tg_qabot, scenario)


def test_sources_are_paginated_and_stats(tg_index: Settings, tg_qabot: Qabot,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import qabot.frontends.telegram.bot as tgbot

    monkeypatch.setattr(tgbot, "SOURCES_PER_PAGE", 2)

    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(70, "/sources", lang="en"))
        (sources,) = await api.wait_for("sendMessage", chat_id=70)
        assert sources["text"].startswith("Articles in the corpus (3), page 1/2:")
        assert sources["text"].count("\n• ") == 2
        (nav,) = sources["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in nav] == ["▶"]
        api.push(callback(70, nav[0]["callback_data"], lang="en"))
        (page2,) = await api.wait_for("editMessageText", chat_id=70)
        assert page2["text"].startswith("Articles in the corpus (3), page 2/2:")
        assert "Tarifs &lt;b&gt;spéciaux&lt;/b&gt;" in page2["text"]
        assert [b["text"] for b in page2["reply_markup"]["inline_keyboard"][0]] == ["◀"]
        api.push(message(71, "/stats", lang="en"))
        (stats,) = await api.wait_for("sendMessage", chat_id=71)
        assert stats["text"].startswith("3 article(s),")

    run_scenario(tg_index, tg_qabot, scenario)


def test_reindex_is_for_admins_and_picks_up_new_articles(tmp_path: Path,
                                                         embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "mali.txt", (CORPUS / "000_d5078016723e65e9.txt").read_text())
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, embedder=embedder)
    qabot = Qabot(settings, open_index(settings), embedder)

    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(80, "/reindex", user_id=80))
        (refused,) = await api.wait_for("sendMessage", chat_id=80)
        assert refused["text"] == "Seuls les administrateurs du robot peuvent faire cela."
        write(corpus / "pluie.txt", "Title: Orages à Bamako\nDate: 2025-08-02\nLang: fr\n\n"
              "De violents orages ont inondé trois quartiers de Bamako dans la nuit de vendredi.")
        api.push(message(81, "/reindex", user_id=81))
        done = await api.wait_for("sendMessage", count=2, chat_id=81, timeout=120)
        assert done[0]["text"] == "Mise à jour de l’index…"
        assert done[1]["text"].startswith("Index mis à jour en ")
        assert "1 ajouté(s), 0 modifié(s), 0 retiré(s), 0 ignoré(s) ; 2 article(s)" in done[1]["text"]
        api.push(message(81, "Quels quartiers de Bamako ont été inondés ?", user_id=81))
        sent = await api.wait_for("sendMessage", count=3, chat_id=81)
        assert "violents orages ont inondé trois quartiers" in sent[2]["text"]
        api.push(message(81, "/reindex", user_id=81))
        again = await api.wait_for("sendMessage", count=5, chat_id=81, timeout=120)
        assert again[4]["text"] == "L’index est déjà à jour."

    run_scenario(settings, qabot, scenario, telegram_admin_ids=[81])


def test_a_failing_handler_apologizes_and_the_bot_keeps_running(tg_index: Settings,
                                                                embedder: Embedder) -> None:
    broken = Qabot(tg_index, open_index(tg_index), embedder)
    broken.index.store.close()  # the metadata database is gone from under the bot

    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(90, MINISTER, lang="en"))
        (sorry,) = await api.wait_for("sendMessage", chat_id=90)
        assert sorry["text"].startswith("Sorry, something went wrong on my side.")
        sticker = {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 1,
                   "height": 1, "is_animated": False, "is_video": False}
        api.push(message(91, "", lang="en", sticker=sticker))
        (hint,) = await api.wait_for("sendMessage", chat_id=91)
        assert hint["text"].startswith("I only read text")

    run_scenario(tg_index, broken, scenario)


def test_twenty_chats_at_once_each_get_their_own_answer(tg_index: Settings,
                                                        tg_qabot: Qabot) -> None:
    expected = {RECRUITS: "900 nouvelles recrues", MINISTER: "Abdoulaye Diop",
                TRAINING: "formation de six mois"}
    questions = list(expected)

    async def scenario(api: FakeBotApi, app: Any) -> None:
        for chat in range(100, 120):
            api.push(message(chat, questions[chat % 3]))
        for chat in range(100, 120):
            (sent,) = await api.wait_for("sendMessage", chat_id=chat)
            assert expected[questions[chat % 3]] in sent["text"], chat

    run_scenario(tg_index, tg_qabot, scenario)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_webhook_checks_the_secret_token(tg_index: Settings, tg_qabot: Qabot) -> None:
    async def main() -> None:
        api = FakeBotApi()
        base = await api.start()
        port = free_port()
        s = tg_index.model_copy(update={"telegram_token": SecretStr(TOKEN),
                                        "telegram_api_url": base})
        app = build_application(s, tg_qabot, FeedbackStore(s.index_dir))
        track_updates(app)
        async with app:
            await app.start()
            await app.updater.start_webhook(
                listen="127.0.0.1", port=port, url_path="hook", secret_token="s3cret_token",
                webhook_url=f"http://127.0.0.1:{port}/hook")
            try:
                (hook,) = await api.wait_for("setWebhook")
                assert hook["url"] == f"http://127.0.0.1:{port}/hook"
                assert hook["secret_token"] == "s3cret_token"
                update = {"update_id": 5000, **message(200, MINISTER)}
                async with aiohttp.ClientSession() as http:
                    url = f"http://127.0.0.1:{port}/hook"
                    bad = await http.post(url, json=update,
                                          headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
                    assert bad.status == 403
                    none = await http.post(url, json=update)
                    assert none.status == 403
                    good = await http.post(
                        url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token":
                                                   "s3cret_token"})
                    assert good.status == 200
                (sent,) = await api.wait_for("sendMessage", chat_id=200)
                assert "Abdoulaye Diop" in sent["text"]
                await handled(app, 5000)
                assert len(api.sent("sendMessage", chat_id=200)) == 1
                assert not api.refused
            finally:
                await app.updater.stop()
                await app.stop()
        await api.stop()

    asyncio.run(main())


async def start_bot(token: str, api_url: str, settings: Settings, cwd: Path,
                    log_level: str = "DEBUG") -> asyncio.subprocess.Process:
    """`qabot bot` in a process of its own against the local Bot API."""
    env = clean_env(QABOT_TELEGRAM_TOKEN=token, QABOT_TELEGRAM_API_URL=api_url,
                    QABOT_INDEX_DIR=str(settings.index_dir),
                    QABOT_CORPUS_DIR=str(settings.corpus_dir), QABOT_LOG_LEVEL=log_level)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "qabot", "bot", env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


def test_qabot_bot_command_polls_and_never_logs_the_token(tg_index: Settings,
                                                          tmp_path: Path) -> None:
    async def main() -> None:
        api = FakeBotApi()
        base = await api.start()
        proc = await start_bot(TOKEN, base, tg_index, tmp_path)
        try:
            api.push(message(300, MINISTER))
            (sent,) = await api.wait_for("sendMessage", chat_id=300, timeout=180)
            assert "Abdoulaye Diop" in sent["text"]
            assert not api.refused
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
            await api.stop()
        logs = out.decode() + err.decode()
        assert "getUpdates" in logs  # the debug log did record the requests…
        assert TOKEN not in logs  # …with the token blanked out
        assert TOKEN.split(":")[1] not in logs
        assert proc.returncode == 0

    asyncio.run(main())


def test_bot_needs_a_well_formed_token(tmp_path: Path) -> None:
    import subprocess

    env = clean_env()
    out = subprocess.run([sys.executable, "-m", "qabot", "bot"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("qabot: QABOT_TELEGRAM_TOKEN is not set: create a bot")
    env["QABOT_TELEGRAM_TOKEN"] = "12345:not-a-real-token"
    out = subprocess.run([sys.executable, "-m", "qabot", "bot"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, check=False)
    assert out.returncode == 2
    assert out.stderr.strip() == ("qabot: invalid setting QABOT_TELEGRAM_TOKEN: does not look "
                                  "like a bot token from @BotFather (123456:ABC-...)")
    assert "not-a-real-token" not in out.stderr


def test_commands_read_the_index_off_the_event_loop(tg_index: Settings, tg_qabot: Qabot,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """/help, /stats and /sources read CURRENT and may load a whole new generation: on the
    event loop, that would stall every chat meanwhile."""
    import threading

    on_loop: list[bool] = []
    refresh = Qabot.refresh

    def watched(self: Qabot) -> bool:
        on_loop.append(threading.current_thread() is threading.main_thread())
        return refresh(self)

    monkeypatch.setattr(Qabot, "refresh", watched)

    async def scenario(api: FakeBotApi, app: Any) -> None:
        for chat, command in ((75, "/help"), (76, "/stats"), (77, "/sources")):
            api.push(message(chat, command, lang="en"))
            await api.wait_for("sendMessage", chat_id=chat)
        (sources,) = api.sent("sendMessage", chat_id=77)
        api.push(callback(77, "s:0", lang="en"))
        await api.wait_for("editMessageText", chat_id=77)
        assert sources["text"].startswith("Articles in the corpus (3)")

    run_scenario(tg_index, tg_qabot, scenario)
    assert len(on_loop) >= 4 and not any(on_loop)


def test_a_revoked_token_is_one_line_that_never_shows_it(tg_index: Settings,
                                                         tmp_path: Path) -> None:
    revoked = "987654321:AAEx-revokedTokenForTests-0123456789ab"
    refusal = ("qabot: Telegram refused QABOT_TELEGRAM_TOKEN (401 Unauthorized): it was revoked "
               "or mistyped; copy the bot's current token from @BotFather (/mybots, API Token)")

    async def run(log_level: str) -> tuple[int | None, str, str]:
        api = FakeBotApi()  # answers 401 to any token but its own
        base = await api.start()
        proc = await start_bot(revoked, base, tg_index, tmp_path, log_level)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
        finally:
            await api.stop()
        return proc.returncode, out.decode(), err.decode()

    # At the default level: the user reads what happened and what to do, and nothing else.
    code, out, err = asyncio.run(run("WARNING"))
    assert code == 2, err
    assert "Traceback" not in err and revoked.split(":")[1] not in out + err
    assert err.strip().splitlines() == [
        "WARNING qabot.frontends.telegram.run: polling Telegram for updates; Ctrl-C stops the bot",
        refusal]
    # At DEBUG the log records the requests and the traceback, never the token.
    code, out, err = asyncio.run(run("DEBUG"))
    assert code == 2 and err.strip().splitlines()[-1] == refusal
    assert "getMe" in err and "Traceback" in err
    assert revoked not in out + err and revoked.split(":")[1] not in out + err


def test_absurd_titles_sources_and_urls_still_give_messages_telegram_accepts(
        tmp_path: Path, embedder: Embedder) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "pont.txt", f"Title: {'Le pont & la rivière ' * 250}\nDate: 2025-09-01\n"
          f"URL: https://example.org/{'a&b=<c>' * 800}\nSource: {'<Agence> & ' * 500}\n"
          "Lang: fr\n\nLe pont de Gao a été rouvert mardi après trois mois de travaux.\n")
    settings = load_settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, embedder=embedder)
    qabot = Qabot(settings, open_index(settings), embedder)

    async def scenario(api: FakeBotApi, app: Any) -> None:
        api.push(message(95, "Quand le pont de Gao a-t-il été rouvert ?"))
        (sent,) = await api.wait_for("sendMessage", chat_id=95)
        assert "<b>Le pont de Gao a été rouvert mardi" in sent["text"]
        assert len(sent["text"]) <= TELEGRAM_LIMIT
        api.push(message(96, "/sources"))
        (sources,) = await api.wait_for("sendMessage", chat_id=96)
        assert "Le pont &amp; la rivière" in sources["text"]
        api.push(inline_query(97, "Quand le pont de Gao a-t-il été rouvert ?"))
        (inline,) = await api.wait_for("answerInlineQuery")
        assert inline["results"]
        # run_scenario then checks that Telegram would have accepted every one of them

    run_scenario(settings, qabot, scenario)


def test_an_unreachable_bot_api_is_one_line_without_traceback(tg_index: Settings,
                                                             tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens there

    async def run() -> tuple[int | None, str]:
        proc = await start_bot(TOKEN, url, tg_index, tmp_path, "WARNING")
        _, err = await asyncio.wait_for(proc.communicate(), timeout=180)
        return proc.returncode, err.decode()

    code, err = asyncio.run(run())
    assert code == 1, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(
        f"qabot: cannot reach the Telegram Bot API at {url} (")
    assert err.strip().endswith("check the network, or QABOT_TELEGRAM_API_URL")
