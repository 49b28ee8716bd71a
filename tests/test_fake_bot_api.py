"""The fake Bot API refuses, as Telegram does, messages it could not parse or send: then a bot
scenario that passes against it (tests/test_telegram.py) shows Telegram would take its messages."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from tests.fake_bot_api import TOKEN, FakeBotApi

Answer = tuple[int, dict[str, Any]]


def post(*calls: tuple[str, dict[str, Any]], form: bool = False) -> tuple[list[Answer], FakeBotApi]:
    """POST each (method, params) to a fresh FakeBotApi, as JSON or (like python-telegram-bot)
    as a form with JSON-encoded fields; return the answers and the server."""
    api = FakeBotApi()
    answers: list[Answer] = []

    async def main() -> None:
        base = await api.start()
        try:
            async with aiohttp.ClientSession() as http:
                for method, params in calls:
                    body: dict[str, Any] = (
                        {"data": {k: v if isinstance(v, str) else json.dumps(v)
                                  for k, v in params.items()}} if form else {"json": params})
                    async with http.post(f"{base}{TOKEN}/{method}", **body) as r:
                        answers.append((r.status, await r.json()))
        finally:
            await api.stop()

    asyncio.run(main())
    return answers, api


def send(text: str, parse_mode: str | None = "HTML", method: str = "sendMessage") -> Answer:
    params: dict[str, Any] = {"chat_id": 1, "text": text}
    if parse_mode:
        params["parse_mode"] = parse_mode
    if method == "editMessageText":
        params["message_id"] = 1000
    (answer,), _ = post((method, params))
    return answer


def refusal(description: str) -> Answer:
    return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}


def entities(error: str) -> Answer:
    return refusal(f"can't parse entities: {error}")


@pytest.mark.parametrize("text", [
    "Tom &amp; Jerry &lt;3 &gt; &quot;x&quot; &#233;t&#xE9; &#x1F600; l'été",
    ("<blockquote>Avant <b>la phrase</b> après.</blockquote>\n— "
     '<a href="https://x?a=1&amp;b=2">t</a>, 2025-07-22'),
    ("<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>i</ins><s>s</s><strike>s</strike>"
     "<del>d</del><code>c</code><B>upper</B><b><i><u>nested</u></i></b>"),
    ('<span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler> '
     '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'),
    '<pre>x</pre><pre><code class="language-python">if a &lt; b: pass</code></pre>',
    "<blockquote expandable>long</blockquote><a href='https://x'>single quotes</a>",
    "<b>" + "a" * 4096 + "</b>",  # 4096 characters once the tags are gone
    "&amp;" * 4096,  # 20480 characters of HTML, 4096 of text
    "😀" * 2048,  # 4096 UTF-16 code units
])
def test_telegram_html_is_accepted(text: str) -> None:
    status, body = send(text)
    assert (status, body["ok"], body["result"]["text"]) == (200, True, text)


@pytest.mark.parametrize(("text", "answer"), [
    ("Hello world <foo>x</foo>", entities('Unsupported start tag "foo" at byte offset 12')),
    ("Déjà vu <br/>", entities('Unsupported start tag "br/" at byte offset 10')),  # UTF-8 bytes
    ("<b>bold", entities('Can\'t find end tag corresponding to start tag "b"')),
    ("<b><i>x</b></i>",
     entities('Unmatched end tag at byte offset 7, expected "</i>", found "</b>"')),
    ("x</b>", entities("Unexpected end tag at byte offset 1")),
    ("a < b", entities('Unsupported start tag "" at byte offset 2')),
    ("a <b", entities("Unclosed start tag at byte offset 2")),
    ("AT&T", entities('Unescaped "&" at byte offset 2')),
    ("1 > 0", entities('Unescaped ">" at byte offset 2')),
    ("caf&eacute;", entities('Unsupported HTML entity "&eacute;" at byte offset 3')),
    ("&nbsp;", entities('Unsupported HTML entity "&nbsp;" at byte offset 0')),
    ('<a href="https://x?a=1&b=2">t</a>', entities('Unescaped "&" at byte offset 22')),
    ('<span class="x">s</span>',
     entities('Tag "span" must have class "tg-spoiler" at byte offset 0')),
    ("<b " + "a" * 4097 + "</b>", entities("Unclosed start tag at byte offset 0")),
    ("<b>" + "a" * 4097 + "</b>", refusal("message is too long")),
    ("&amp;" * 4097, refusal("message is too long")),
    ("😀" * 2049, refusal("message is too long")),  # 2049 code points, 4098 UTF-16 units
    ("", refusal("message text is empty")),
    ("<b> </b>\n", refusal("message text is empty")),
])
def test_what_telegram_would_refuse_is_refused(text: str, answer: Answer) -> None:
    assert send(text) == answer


def test_parse_mode_is_case_insensitive_and_edits_are_checked_too() -> None:
    assert send("<foo>", parse_mode="html") == entities(
        'Unsupported start tag "foo" at byte offset 0')
    assert send("<b>x", method="editMessageText") == entities(
        'Can\'t find end tag corresponding to start tag "b"')
    assert send("<b>x</b>", method="editMessageText")[0] == 200


def test_plain_text_is_not_parsed_but_its_length_is_checked() -> None:
    assert send("a < b & c > d", parse_mode=None)[0] == 200
    assert send("a" * 4096, parse_mode=None)[0] == 200
    assert send("a" * 4097, parse_mode=None) == refusal("message is too long")
    assert send("   ", parse_mode=None) == refusal("message text is empty")


def test_refusals_are_recorded_with_their_reason() -> None:
    answers, api = post(("sendMessage", {"chat_id": 1, "text": "<b>ok</b>", "parse_mode": "HTML"}),
                        ("sendMessage", {"chat_id": 2, "text": "<p>no</p>", "parse_mode": "HTML"}))
    assert [status for status, _ in answers] == [200, 400]
    assert [c.params["chat_id"] for c in api.calls] == [1, 2]  # every call is still recorded
    (refused,) = api.refused
    assert refused.params["text"] == "<p>no</p>"
    assert refused.refused == answers[1][1]["description"]
    assert len(api.sent("sendMessage")) == 2


def test_callback_answers_are_at_most_200_characters() -> None:
    answers, _ = post(("answerCallbackQuery", {"callback_query_id": "1", "text": "é" * 200}),
                      ("answerCallbackQuery", {"callback_query_id": "2", "text": "é" * 201}),
                      ("answerCallbackQuery", {"callback_query_id": "3"}))
    assert answers == [(200, {"ok": True, "result": True}), refusal("MESSAGE_TOO_LONG"),
                       (200, {"ok": True, "result": True})]


def article(title: str, text: str) -> dict[str, Any]:
    return {"type": "article", "id": "1", "title": title, "description": "d",
            "input_message_content": {"message_text": text, "parse_mode": "HTML"}}


def test_inline_results_are_checked_like_messages() -> None:
    good = article("Mali", '<blockquote><b>Q</b> &amp; A</blockquote> <a href="https://x">t</a>')
    answers, api = post(
        ("answerInlineQuery", {"inline_query_id": "1", "results": [good]}),
        ("answerInlineQuery", {"inline_query_id": "2", "results": [good, article("B", "<foo>")]}),
        ("answerInlineQuery", {"inline_query_id": "3", "results": [article("C", "<b>x")]}),
        ("answerInlineQuery", {"inline_query_id": "4", "results": [article("", "x")]}),
        ("answerInlineQuery", {"inline_query_id": "5", "results": []}),
        form=True)  # as python-telegram-bot sends them: `results` JSON-encoded in a form
    assert answers == [
        (200, {"ok": True, "result": True}),
        refusal("can't parse inline query result: Can't parse entities: "
                'Unsupported start tag "foo" at byte offset 0'),
        refusal("can't parse inline query result: Can't parse entities: "
                'Can\'t find end tag corresponding to start tag "b"'),
        refusal("ARTICLE_TITLE_EMPTY"),
        (200, {"ok": True, "result": True})]
    assert [c.params["inline_query_id"] for c in api.refused] == ["2", "3", "4"]
