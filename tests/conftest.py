"""Shared fixtures: isolated settings per test, and one real index of the shipped corpus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from qabot.config import Settings, load_settings
from qabot.embedding.encoder import Embedder
from qabot.engine import Qabot
from qabot.index.open import open_index
from qabot.index.write import build_index, embedder_for

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Session-wide isolation, in place before any other session fixture reads settings: no
    QABOT_* variable or ./.env of the developer's, and a model cache of the run's own (the
    default model is rebuilt into it once, as on a user's first start)."""
    patch = pytest.MonkeyPatch()
    for name in list(os.environ):
        if name.startswith("QABOT_"):
            patch.delenv(name)
    cache = tmp_path_factory.mktemp("model-cache")
    patch.setenv("QABOT_MODEL_CACHE", str(cache))
    patch.chdir(tmp_path_factory.mktemp("cwd"))
    yield cache
    patch.undo()


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> Iterator[None]:
    """No QABOT_* variable or .env from the developer's machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("QABOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QABOT_HISTORY_FILE", str(tmp_path / "history"))
    monkeypatch.setenv("QABOT_MODEL_CACHE", str(model_cache))
    yield


@pytest.fixture(scope="session")
def embedder(model_cache: Path) -> Embedder:
    """The real default model, loaded once."""
    return embedder_for(Settings(_env_file=None, model_cache=model_cache))  # type: ignore[call-arg]


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
    """The environment for a `qabot` subprocess: no QABOT_* variable but the ones given, and
    the test run's model cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    if "QABOT_MODEL_CACHE" in os.environ:
        env["QABOT_MODEL_CACHE"] = os.environ["QABOT_MODEL_CACHE"]
    env.update(settings)
    return env


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
