"""`qabot serve`: a warm qabot that answers one-shot `qabot ask` calls over a Unix socket.

A one-shot `qabot ask` spends most of its time importing torch and loading the model. When a
server answers on the socket in the index folder, `qabot ask` sends it the question and prints
the reply, never importing either. The first `qabot ask` that finds none answers in-process and
starts one in the background; it exits after `QABOT_SERVE_IDLE_SECONDS` without a question.

One JSON line each way. The request carries a key of the client's settings: a server started
with others (another model, another QABOT_TOP_K) answers "mismatch", the client answers
in-process, and the server leaves so that the next one matches. A socket nobody listens on (a
server killed) is ignored, then replaced. The socket is the user's alone (mode 0600).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qabot.config import Settings
from qabot.errors import QabotError

__all__ = ["SOCKET", "ask_server", "serve", "settings_key", "socket_path", "start_server"]

SOCKET = "qabot.sock"
_LOCK = ".serve.lock"
_PROTOCOL = 1
#: Longest a client waits for a reply (a question takes tens of milliseconds; a first one
#: after an index update reloads the index).
_REPLY_TIMEOUT = 60.0
_MAX_REQUEST = 64 * 1024

log = logging.getLogger(__name__)

#: Settings that change nothing in an answer (and the secrets, kept out of any key).
_NOT_IN_ANSWERS = {"serve_idle_seconds", "log_level", "history_file"} | {
    name for name in Settings.model_fields if name.startswith("telegram_")}


def socket_path(settings: Settings) -> Path:
    return Path(settings.index_dir).expanduser() / SOCKET


def settings_key(settings: Settings) -> str:
    """Equal for two processes that would answer alike."""
    fields = settings.model_dump(mode="json", exclude=_NOT_IN_ANSWERS)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def ask_server(settings: Settings, request: dict[str, Any]) -> dict[str, Any] | None:
    """The server's reply to `request`, or None when no server answers for these settings
    (none running, a stale socket, a server with other settings)."""
    path = socket_path(settings)
    if not path.exists():
        return None
    message = {**request, "v": _PROTOCOL, "key": settings_key(settings)}
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(_REPLY_TIMEOUT)
            conn.connect(str(path))
            conn.sendall(json.dumps(message).encode() + b"\n")
            reply = json.loads(_read_line(conn))
    except (OSError, ValueError) as exc:
        log.debug("no answer from %s (%s): answering here", path, exc)
        return None
    if not isinstance(reply, dict) or reply.get("mismatch"):
        log.debug("the server at %s has other settings: answering here", path)
        return None
    log.debug("answered by the server at %s", path)
    return reply


def start_server(settings: Settings) -> None:
    """Start `qabot serve` in the background, detached, with this process's environment and
    folder (so the same settings); it exits when idle."""
    if settings.serve_idle_seconds <= 0 or not _bindable(socket_path(settings)):
        return
    subprocess.Popen(
        [sys.executable, "-m", "qabot", "serve", "--idle", str(settings.serve_idle_seconds)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True)


def serve(settings: Settings, idle_seconds: float, *, quiet: bool = False) -> None:
    """Answer on the socket until `idle_seconds` pass without a question (0: never)."""
    from qabot.engine import Qabot

    if not _bindable(socket_path(settings)):
        raise QabotError(f"the socket path {socket_path(settings)} is too long for a Unix "
                         "socket: use a shorter QABOT_INDEX_DIR")
    with _only_server(settings):
        bot = Qabot.open(settings)
        bot.warm_up()
        key = settings_key(settings)
        with _listening(socket_path(settings)) as listener:
            listener.settimeout(idle_seconds or None)
            if not quiet:
                print(f"qabot serves {socket_path(settings)}", flush=True)
            while True:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    log.info("idle for %s s: leaving", idle_seconds)
                    return
                with conn:
                    if not _handle(conn, bot, settings, key):
                        return


def _handle(conn: socket.socket, bot: Any, settings: Settings, key: str) -> bool:
    """Answer one request; False when the server should leave (a client with other
    settings: the next server started will match them)."""
    conn.settimeout(10)
    try:
        request = json.loads(_read_line(conn))
    except (OSError, ValueError) as exc:
        log.debug("bad request (%s)", exc)
        return True
    if not isinstance(request, dict):
        return True
    if request.get("v") != _PROTOCOL or request.get("key") != key:
        _send(conn, {"mismatch": True})
        return False
    try:
        reply = {"ok": True, "out": answer_text(bot, settings, request)}
    except QabotError as exc:
        reply = {"ok": False, "error": str(exc), "exit": exc.exit_code}
    except Exception as exc:  # one bad question never takes the server down
        log.exception("request failed")
        reply = {"ok": False, "error": f"unexpected error: {type(exc).__name__}: {exc}",
                 "exit": 1}
    _send(conn, reply)
    return True


def answer_text(bot: Any, settings: Settings, request: dict[str, Any]) -> str:
    """What `qabot ask` prints for the request, exactly as it would in-process."""
    from qabot.frontends.render import answer_output
    from qabot.search.filters import Filters
    from qabot.timeframe import parse_day

    since, until = (parse_day(request[k]) if request.get(k) else None for k in ("since", "until"))
    filters = Filters(since, until, request.get("source") or None)
    answer = bot.ask(str(request.get("question", "")), k=request.get("k"), filters=filters)
    return answer_output(answer, str(request.get("format", "plain")), f"-k {settings.top_k}",
                         int(request.get("width") or 80))


@contextlib.contextmanager
def _only_server(settings: Settings) -> Iterator[None]:
    """One server per index folder; the kernel drops the lock if it dies."""
    folder = Path(settings.index_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / _LOCK, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise QabotError(f"a qabot server already answers for {folder}") from None
        yield


@contextlib.contextmanager
def _listening(path: Path) -> Iterator[socket.socket]:
    """A listening socket at `path`, mode 0600 from the start, removed on the way out."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a dead server's: we hold the lock, so nobody listens on it
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old)
    listener.listen(16)
    try:
        yield listener
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _bindable(path: Path) -> bool:
    """Whether a Unix socket can live at `path` (their names hold at most 107 bytes)."""
    return len(os.fsencode(path)) < 108


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > _MAX_REQUEST * 64:
            raise ValueError("reply too long")
    return data


def _send(conn: socket.socket, reply: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):  # the client gave up: nothing to do
        conn.sendall(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
