"""A Bot API server on localhost: what Telegram's servers would be, for python-telegram-bot's real
HTTP stack. It serves the methods qabot uses as Telegram documents them, queues updates a test
injects, and records every call. Like Telegram, it refuses with a 400 what Telegram would refuse:
HTML that does not follow https://core.telegram.org/bots/api#html-style, texts that are empty or
too long; so a scenario that passes shows the bot's messages would be accepted."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, NoReturn

from aiohttp import web

BOT_USER: dict[str, Any] = {"id": 424242, "is_bot": True, "first_name": "qabot",
                            "username": "qabot_test_bot"}
TOKEN = "123456789:AAHfakeTokenForTestsOnly-abcdefghij0123"
# Fields whose form value is plain text; every other field arrives JSON-encoded.
_TEXT_FIELDS = {"text", "action", "callback_query_id", "inline_query_id", "parse_mode", "url",
                "secret_token", "next_offset", "inline_message_id"}
MESSAGE_LIMIT = 4096  # UTF-16 code units of a message's text, once entities are parsed
CALLBACK_TEXT_LIMIT = 200  # answerCallbackQuery's text
log = logging.getLogger(__name__)


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    refused: str | None = None  # the description of the 400 answered, if refused


class BadRequest(Exception):
    """What Telegram answers with a 400; the argument is worded as tdlib words it."""

    @property
    def description(self) -> str:
        # The Bot API's rewording: a lower-case first letter, but ERROR_CODES kept as they are.
        msg = str(self)
        if msg[1:2] != "_" and not msg[1:2].isupper():
            msg = msg[:1].lower() + msg[1:]
        return f"Bad Request: {msg}"


class FakeBotApi:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        self._new_call = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- server --------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{self.port}/bot"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401,
                                      "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await _params(request)
        call = Call(method, params)
        if method != "getUpdates":
            self.calls.append(call)
            self._new_call.set()
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": f"Not Found: method {method}"}, status=404)
        try:
            return web.json_response({"ok": True, "result": await handler(params)})
        except BadRequest as e:
            call.refused = e.description
            log.warning("refused %s: %s", method, call.refused)  # in the log of a failing test
            return web.json_response({"ok": False, "error_code": 400,
                                      "description": call.refused}, status=400)

    # -- methods -------------------------------------------------------------------------
    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return BOT_USER

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        offset = int(p.get("offset") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(),
                                       timeout=min(float(p.get("timeout") or 0), 1.0))
            except TimeoutError:
                pass
        return self._updates[: int(p.get("limit") or 100)]

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        check_text(p.get("text") or "", p.get("parse_mode"))
        return self._message(p["chat_id"], p["text"], p.get("reply_markup"))

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        check_text(p.get("text") or "", p.get("parse_mode"))
        return self._message(p["chat_id"], p["text"], p.get("reply_markup"), p["message_id"])

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        return self._message(p["chat_id"], "", p.get("reply_markup"), p["message_id"])

    async def _ok(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        if _utf16_len(p.get("text") or "") > CALLBACK_TEXT_LIMIT:
            raise BadRequest("MESSAGE_TOO_LONG")
        return True

    async def _m_answerInlineQuery(self, p: dict[str, Any]) -> Any:
        results = p.get("results") or []
        for result in results:  # the Bot API parses every result before Telegram sees any
            content = result.get("input_message_content") or {}
            if "message_text" in content:
                try:
                    check_text(content["message_text"], content.get("parse_mode"))
                except BadRequest as e:
                    raise BadRequest(f"Can't parse inline query result: {e}") from None
        if any(r.get("type") == "article" and not str(r.get("title") or "").strip()
               for r in results):
            raise BadRequest("ARTICLE_TITLE_EMPTY")
        return True

    _m_sendChatAction = _ok
    _m_setWebhook = _m_deleteWebhook = _m_setMyCommands = _m_close = _ok

    async def _m_getWebhookInfo(self, p: dict[str, Any]) -> Any:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}

    def _message(self, chat_id: Any, text: str, markup: Any = None,
                 message_id: Any = None) -> dict[str, Any]:
        msg = {"message_id": int(message_id or next(self._message_ids)), "date": int(time.time()),
               "chat": {"id": int(chat_id), "type": "private" if int(chat_id) > 0 else "group"},
               "from": BOT_USER, "text": text}
        if markup:
            msg["reply_markup"] = markup
        return msg

    # -- for tests -----------------------------------------------------------------------
    @property
    def refused(self) -> list[Call]:
        """The calls answered with a 400, each with its description (they are in `calls` too)."""
        return [c for c in self.calls if c.refused]

    def push(self, update: dict[str, Any]) -> int:
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, **update})
        self._new_update.set()
        return update_id

    def sent(self, method: str, chat_id: int | None = None) -> list[dict[str, Any]]:
        return [c.params for c in self.calls if c.method == method
                and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)]

    async def wait_for(self, method: str, count: int = 1, chat_id: int | None = None,
                       timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait until `count` calls of `method` (to `chat_id`) were recorded; return them."""
        deadline = time.monotonic() + timeout
        while len(found := self.sent(method, chat_id)) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{method} x{count} to {chat_id} not seen; calls: "
                                     f"{[c.method for c in self.calls]}")
            self._new_call.clear()
            try:
                await asyncio.wait_for(self._new_call.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass
        return found


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json())
    raw = dict(await request.post()) if request.can_read_body else {}
    raw.update(request.query)
    params: dict[str, Any] = {}
    for key, value in raw.items():
        value = value if isinstance(value, str) else str(value)
        if key in _TEXT_FIELDS:
            params[key] = value
        else:
            try:
                params[key] = json.loads(value)
            except json.JSONDecodeError:
                params[key] = value
    return params


# -- texts as Telegram checks them -----------------------------------------------------------
# https://core.telegram.org/bots/api#html-style. Errors are worded as tdlib's parse_html words
# them (td/telegram/MessageEntity.cpp). Where tdlib is lenient, the documentation wins: a stray "&"
# or ">", an unknown named entity or an entity without its ";" is kept as text by Telegram today,
# but the documentation asks for them escaped; they are refused here, with errors of our wording
# (as are malformed attributes and a tg-emoji without a numeric emoji-id).
_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
         "tg-emoji", "code", "pre", "blockquote"}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TOKEN = re.compile(r"""
    (?P<tag> < (?P<end>/?) (?P<name>[^\s<>]*) (?P<attrs>[^<>]*) > )
  | & (?: \#(?P<dec>[0-9]+) | \#x(?P<hex>[0-9a-fA-F]+) | (?P<named>[A-Za-z][A-Za-z0-9]*) ) ;
  | (?P<run>[^<>&]+)
  | (?P<lone>.)  # a "<", ">" or "&" that starts no tag or entity
""", re.VERBOSE | re.DOTALL)
_ATTR = re.compile(r"""
    \s+ (?P<key>[^\s=]+) (?: \s*=\s* (?: "(?P<dq>[^"]*)" | '(?P<sq>[^']*)' | (?P<bare>[\w.-]+) ) )?
""", re.VERBOSE)
_ATTRS = re.compile(rf"(?:{_ATTR.pattern})*\s*", re.VERBOSE)


def check_text(text: str, parse_mode: str | None) -> None:
    """Raise BadRequest as Telegram would for this message text: bad HTML, empty, too long."""
    if not text:
        raise BadRequest("Message text is empty")
    mode = (parse_mode or "").lower()
    if mode == "html":
        text = parse_html(text)
    elif mode not in ("", "none", "markdown", "markdownv2"):
        raise BadRequest("Unsupported parse_mode")
    if not text.strip():  # Telegram trims the text: only what remains is sent
        raise BadRequest("Message text is empty")
    if _utf16_len(text) > MESSAGE_LIMIT:
        raise BadRequest("Message is too long")


def parse_html(text: str) -> str:
    """The plain text that Telegram makes of `text` in HTML style, or BadRequest."""
    plain: list[str] = []
    open_tags: list[str] = []
    for m in _TOKEN.finditer(text):
        if m["tag"] is None:
            plain.append(_character(text, m))
        elif not m["end"]:
            open_tags.append(_start_tag(text, m))
        else:
            name, at = m["name"].lower(), _byte_offset(text, m.start())
            if not open_tags:
                _refuse(f"Unexpected end tag at byte offset {at}")
            if m["attrs"].strip():
                _refuse(f"Unclosed end tag at byte offset {at}")
            if name and name != open_tags[-1]:  # "</>" closes whatever is open, as in tdlib
                _refuse(f'Unmatched end tag at byte offset {at}, expected "</{open_tags[-1]}>", '
                        f'found "</{m["name"]}>"')
            open_tags.pop()
    if open_tags:
        _refuse(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(plain)


def _character(text: str, m: re.Match[str]) -> str:
    """Plain text, or the character an entity stands for; a lone "<", ">" or "&" is refused."""
    if m["run"] is not None:
        return m["run"]
    if m["named"] in _NAMED:
        return _NAMED[m["named"]]
    if m["dec"] or m["hex"]:
        code = int(m["dec"]) if m["dec"] else int(m["hex"], 16)
        # tdlib reads at most 7 digits (6 hex ones), and only characters UTF-8 can carry
        if len(m.group()) <= 10 and 0 < code < 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code)
    at = _byte_offset(text, m.start())
    if m["lone"] is None:
        _refuse(f'Unsupported HTML entity "{m.group()}" at byte offset {at}')
    if m["lone"] == "<":  # a tag that no ">" ends: tdlib names it if something follows its name
        name = re.split(r"[\s>]", text[m.end():], maxsplit=1)[0].lower()
        if name.startswith("/") or name in _TAGS or m.end() + len(name) == len(text):
            _refuse(f"Unclosed {'end' if name.startswith('/') else 'start'} tag "
                    f"at byte offset {at}")
        _refuse(f'Unsupported start tag "{name}" at byte offset {at}')
    _refuse(f'Unescaped "{m["lone"]}" at byte offset {at}')


def _start_tag(text: str, m: re.Match[str]) -> str:
    """The name of the start tag `m` if Telegram supports it and its attributes."""
    name, at = m["name"].lower(), _byte_offset(text, m.start())
    if name not in _TAGS:
        _refuse(f'Unsupported start tag "{name}" at byte offset {at}')
    if not _ATTRS.fullmatch(text, m.start("attrs"), m.end("attrs")):
        _refuse(f'Malformed attributes in the tag "{name}" at byte offset {at}')
    attrs: dict[str, str] = {}
    for a in _ATTR.finditer(text, m.start("attrs"), m.end("attrs")):
        key, group = a["key"].lower(), a.lastgroup or "key"  # "dq", "sq", "bare"; "key": none
        if group == "key":  # only <blockquote expandable> has an attribute without a value
            if (name, key) != ("blockquote", "expandable"):
                _refuse(f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                        f"at byte offset {at}")
            attrs[key] = ""
        else:  # attribute values are text too: entities decoded, a lone "&" refused
            attrs[key] = "".join(_character(text, t)
                                 for t in _TOKEN.finditer(text, a.start(group), a.end(group)))
    if name == "span" and attrs.get("class") != "tg-spoiler":
        _refuse(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
    if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        _refuse(f'Tag "tg-emoji" must have a numeric "emoji-id" at byte offset {at}')
    return name


def _refuse(error: str) -> NoReturn:
    raise BadRequest(f"Can't parse entities: {error}")


def _byte_offset(text: str, index: int) -> int:
    """Telegram reports positions in bytes of the UTF-8 text."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _utf16_len(text: str) -> int:
    """Telegram counts a text's length in UTF-16 code units: an emoji such as 😀 counts 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# -- updates as Telegram sends them ----------------------------------------------------------
_ids = itertools.count(1)


def user(user_id: int, lang: str = "fr") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"U{user_id}", "language_code": lang}


def message(chat_id: int, text: str, *, user_id: int | None = None, lang: str = "fr",
            chat_type: str | None = None, reply_to_bot: bool = False,
            **extra: Any) -> dict[str, Any]:
    kind = chat_type or ("private" if chat_id > 0 else "group")
    msg: dict[str, Any] = {
        "message_id": next(_ids), "date": int(time.time()),
        "chat": {"id": chat_id, "type": kind, **({"title": "G"} if kind != "private" else {})},
        "from": user(user_id or abs(chat_id), lang),
    }
    if text:
        msg["text"] = text
        entities = []
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0,
                             "length": len(text.split()[0])})
        at = text.find("@" + BOT_USER["username"])
        if at >= 0 and not text.startswith("/"):
            entities.append({"type": "mention", "offset": at,
                             "length": len(BOT_USER["username"]) + 1})
        if entities:
            msg["entities"] = entities
    if reply_to_bot:
        msg["reply_to_message"] = {"message_id": 1, "date": int(time.time()),
                                   "chat": msg["chat"], "from": BOT_USER, "text": "earlier"}
    msg.update(extra)
    return {"message": msg}


def callback(chat_id: int, data: str, *, user_id: int | None = None, lang: str = "fr",
             message_id: int = 1000) -> dict[str, Any]:
    return {"callback_query": {
        "id": str(next(_ids)), "from": user(user_id or abs(chat_id), lang), "chat_instance": "c",
        "data": data,
        "message": {"message_id": message_id, "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                    "from": BOT_USER, "text": "answer"},
    }}


def inline_query(user_id: int, query: str, lang: str = "fr") -> dict[str, Any]:
    return {"inline_query": {"id": str(next(_ids)), "from": user(user_id, lang), "query": query,
                             "offset": ""}}
