"""`qabot serve` and the one-shot `qabot ask` that uses it: same answers, stale sockets, settings
that differ, the background server a first `qabot ask` starts and that leaves when idle."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qabot.config import Settings
from qabot.engine import Qabot
from qabot.frontends.render import plain_answer
from tests.conftest import CORPUS, clean_env

QUESTION = "Quel ministre a reçu l'envoyé américain ?"


@pytest.fixture()
def env(shipped_settings: Settings, tmp_path: Path) -> dict[str, str]:
    """A private copy of the shipped index (a server writes its socket there)."""
    shutil.copytree(shipped_settings.index_dir, tmp_path / "index")
    return clean_env(QABOT_INDEX_DIR=str(tmp_path / "index"), QABOT_CORPUS_DIR=str(CORPUS),
                     QABOT_LOG_LEVEL="DEBUG")


def ask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qabot", "ask", *args], env=env, text=True,
                          capture_output=True, check=False, timeout=300)


def wait_for(condition: object, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "qabot", "serve", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("qabot serves ")
    return proc


def test_the_server_answers_exactly_as_in_process(env: dict[str, str], bot: Qabot) -> None:
    proc = start(env, "--idle", "120")
    try:
        sock = Path(env["QABOT_INDEX_DIR"]) / "qabot.sock"
        assert stat.S_IMODE(sock.stat().st_mode) == 0o600
        served = ask(env, "--json", QUESTION)
        assert served.returncode == 0, served.stderr
        assert "answered by the server" in served.stderr
        assert json.loads(served.stdout) == bot.ask(QUESTION).to_json()
        plain = ask(env, QUESTION)
        assert plain.stdout == plain_answer(bot.ask(QUESTION), f"-k {bot.settings.top_k}") + "\n"
        empty = ask(env, "   ")  # an error comes back as the one line it would be here
        assert empty.returncode == 1
        assert empty.stderr.splitlines()[-1] == ("qabot: the question is empty: type a "
                                                 "question about the corpus")
        # A client with other settings is answered in-process, and the server leaves.
        other = ask({**env, "QABOT_TOP_K": "1", "QABOT_SHOW_RATIO": "0"}, "--json", QUESTION)
        assert "other settings" in other.stderr and len(json.loads(other.stdout)["passages"]) == 1
        assert proc.wait(timeout=30) == 0
        assert not sock.exists()
    finally:
        proc.kill()
        proc.wait()


def test_a_first_ask_starts_a_server_that_replaces_a_stale_socket_and_leaves_when_idle(
        env: dict[str, str]) -> None:
    env = {**env, "QABOT_SERVE_IDLE_SECONDS": "8"}
    sock = Path(env["QABOT_INDEX_DIR"]) / "qabot.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock))  # a killed server's socket: the file is there, nobody listens
    dead.close()
    first = ask(env, QUESTION)  # never fails for it: answered here
    assert first.returncode == 0, first.stderr
    assert "Abdoulaye Diop" in first.stdout and "no answer from" in first.stderr
    # (Not by its inode: the new socket's may be the one the stale socket freed.)
    wait_for(lambda: listening(sock))
    second = ask(env, QUESTION)
    assert "answered by the server" in second.stderr and second.stdout == first.stdout
    wait_for(lambda: not sock.exists(), timeout=60)  # idle for 8 s: gone
    assert not [p for p in os.listdir(env["QABOT_INDEX_DIR"]) if p.endswith(".sock")]


def test_an_index_folder_too_deep_for_a_socket_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120) / "index"
    out = subprocess.run([sys.executable, "-m", "qabot", "serve"], text=True, timeout=120,
                         env=clean_env(QABOT_INDEX_DIR=str(deep)), capture_output=True,
                         check=False)
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "too long for a Unix socket: use a shorter QABOT_INDEX_DIR" in out.stderr
