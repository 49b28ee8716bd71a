"""Shared fixtures: isolated settings per test, and one real index of the shipped corpus."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from qabot.config import Settings, load_settings
from qabot.embedding.encoder import Embedder, embedder_for
from qabot.engine import Qabot
from qabot.index.open import open_index
from qabot.index.write import build_index

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
_RUN_DIR = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    """Isolation for the whole run, in place before any fixture or test module exists: no
    QABOT_* variable of the developer's (QABOT_TEST_* ones are the tests' own) and no ./.env
    (settings read it from the working directory, and the README has users create one), and
    a model cache of the run's own: the default model is rebuilt into it once, as on a user's
    first start, unless QABOT_TEST_MODEL_CACHE names one to reuse."""
    for name in list(os.environ):
        if name.startswith("QABOT_") and not name.startswith("QABOT_TEST_"):
            del os.environ[name]
    run_dir = Path(tempfile.mkdtemp(prefix="qabot-tests-"))
    cache = os.environ.get("QABOT_TEST_MODEL_CACHE") or str(run_dir / "model-cache")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        # pytest-xdist's workers start after this, from this environment: one model cache
        # for the whole run, the first worker to need it rebuilds it (under its lock).
        os.environ["QABOT_TEST_MODEL_CACHE"] = cache
    os.environ["QABOT_MODEL_CACHE"] = cache
    # No `qabot ask` of a test leaves a server behind, unless the test asks for one.
    os.environ["QABOT_SERVE_IDLE_SECONDS"] = "0"
    os.chdir(run_dir)
    config.stash[_RUN_DIR] = run_dir


def pytest_unconfigure(config: pytest.Config) -> None:
    run_dir = config.stash.get(_RUN_DIR, None)
    if run_dir is not None:
        os.chdir(REPO)
        shutil.rmtree(run_dir, ignore_errors=True)  # the rebuilt model is 470 MB


@pytest.fixture(scope="session", autouse=True)
def model_cache() -> Path:
    """The run's model cache (see `pytest_configure`)."""
    return Path(os.environ["QABOT_MODEL_CACHE"])


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_cache: Path) -> Iterator[None]:
    """No QABOT_* variable or .env from the developer's machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("QABOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QABOT_HISTORY_FILE", str(tmp_path / "history"))
    monkeypatch.setenv("QABOT_MODEL_CACHE", str(model_cache))
    monkeypatch.setenv("QABOT_SERVE_IDLE_SECONDS", "0")
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
    env["QABOT_SERVE_IDLE_SECONDS"] = "0"
    env.update(settings)
    return env


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
