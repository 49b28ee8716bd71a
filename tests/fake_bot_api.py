"""A Bot API server on localhost: what Telegram's servers would be, for python-telegram-bot's real
HTTP stack. It serves the methods qabot uses as Telegram documents them, queues updates a test
injects, and records every call."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

BOT_USER = {"id": 424242, "is_bot": True, "first_name": "qabot", "username": "qabot_test_bot"}
TOKEN = "123456789:AAHfakeTokenForTestsOnly-abcdefghij0123"
# Fields whose form value is plain text; every other field arrives JSON-encoded.
_TEXT_FIELDS = {"text", "action", "callback_query_id", "inline_query_id", "parse_mode", "url",
                "secret_token", "next_offset", "inline_message_id"}


@dataclass
class Call:
    method: str
    params: dict[str, Any]


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
        if method != "getUpdates":
            self.calls.append(Call(method, params))
            self._new_call.set()
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return web.json_response({"ok": False, "error_code": 404,
                                      "description": f"Not Found: method {method}"}, status=404)
        return web.json_response({"ok": True, "result": await handler(params)})

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
        return self._message(p["chat_id"], p["text"], p.get("reply_markup"))

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        return self._message(p["chat_id"], p["text"], p.get("reply_markup"), p["message_id"])

    async def _m_editMessageReplyMarkup(self, p: dict[str, Any]) -> Any:
        return self._message(p["chat_id"], "", p.get("reply_markup"), p["message_id"])

    async def _ok(self, p: dict[str, Any]) -> Any:
        return True

    _m_sendChatAction = _m_answerCallbackQuery = _m_answerInlineQuery = _ok
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
