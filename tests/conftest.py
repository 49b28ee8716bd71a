"""Shared fixtures: isolated settings per test, and one real index of the shipped corpus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qabot.config import Settings, load_settings
from qabot.embed import Embedder
from qabot.engine import Qabot
from qabot.index import open_index
from qabot.update import build_index, embedder_for

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No QABOT_* variable or .env from the developer's machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("QABOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QABOT_HISTORY_FILE", str(tmp_path / "history"))
    yield


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model, loaded once."""
    return embedder_for(Settings())


@pytest.fixture(scope="session")
def shipped_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """Settings pointing at a real index of corpus/, built once for the session."""
    index_dir = tmp_path_factory.mktemp("shipped") / "index"
    settings = load_settings(corpus_dir=CORPUS, index_dir=index_dir)
    build_index(settings, embedder=embedder)
    return settings


@pytest.fixture(scope="session")
def bot(shipped_settings: Settings, embedder: Embedder) -> Qabot:
    return Qabot(shipped_settings, open_index(shipped_settings), embedder)


def clean_env(**settings: str) -> dict[str, str]:
    """The environment for a `qabot` subprocess: no QABOT_* variable but the ones given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    env.update(settings)
    return env


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
