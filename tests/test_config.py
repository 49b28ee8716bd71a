from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qabot.config import DEFAULT_MODEL, Settings, load_settings
from qabot.embedding import MINILM, model_path
from qabot.errors import ConfigError


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("QABOT_MODEL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    s = load_settings()
    assert s.corpus_dir == Path("corpus")
    assert s.index_dir == Path("index")
    assert s.embedding_model == DEFAULT_MODEL
    assert s.fusion_weights == (0.6, 0.4)
    assert s.model_cache == tmp_path / "qabot" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert load_settings().model_cache == Path("~/.cache/qabot/models").expanduser()
    assert s.prompts == ("query: ", "passage: ")
    assert s.cosine_scale == (0.75, 0.92)


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("QABOT_TOP_K=5\nQABOT_INDEX_DIR=elsewhere\n")
    monkeypatch.setenv("QABOT_TOP_K", "7")  # the environment wins over .env
    s = load_settings()
    assert s.top_k == 7
    assert s.index_dir == Path("elsewhere")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("QABOT_TOP_K", "abc", "invalid setting QABOT_TOP_K='abc': Input should be a valid integer"),
        ("QABOT_TOP_K", "0", ("invalid setting QABOT_TOP_K='0': Input should be greater than or "
                             "equal to 1")),
        ("QABOT_MIN_RELEVANCE", "2", "invalid setting QABOT_MIN_RELEVANCE='2'"),
        ("QABOT_SHOW_RATIO", "1.5", "invalid setting QABOT_SHOW_RATIO='1.5'"),
        ("QABOT_LOG_LEVEL", "loud", "invalid setting QABOT_LOG_LEVEL='LOUD'"),
        ("QABOT_EMBEDDING_MODEL", " ", "invalid setting QABOT_EMBEDDING_MODEL=' ': must name"),
    ],
)
def test_invalid_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                            value: str, message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert info.value.exit_code == 2


def test_weights_cannot_both_be_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QABOT_DENSE_WEIGHT", "0")
    monkeypatch.setenv("QABOT_LEXICAL_WEIGHT", "0")
    with pytest.raises(ConfigError, match="QABOT_DENSE_WEIGHT and QABOT_LEXICAL_WEIGHT"):
        load_settings()


def test_minilm_resolves_to_the_offline_copy_without_prompts(tmp_path: Path) -> None:
    path = Path(model_path(MINILM, tmp_path))
    assert path.is_dir()
    assert (path / "modules.json").exists()
    assert "site-packages" in str(path)
    settings = Settings(embedding_model="all-MiniLM-L6-v2")
    assert settings.embedding_model == MINILM
    assert settings.prompts == ("", "")
    assert settings.cosine_scale == (0.0, 1.0)
    assert not list(tmp_path.iterdir())  # nothing was built for it


def test_other_models_pass_through(tmp_path: Path) -> None:
    assert model_path("BAAI/bge-m3", tmp_path) == "BAAI/bge-m3"
    assert model_path(str(tmp_path), tmp_path) == str(tmp_path)
    assert Settings(embedding_model=str(tmp_path)).embedding_model == str(tmp_path)
    assert Settings(embedding_model="BAAI/bge-m3").prompts == ("", "")


def test_each_model_gets_its_own_prompts(tmp_path: Path) -> None:
    assert Settings(embedding_model="intfloat/multilingual-e5-base").prompts == (
        "query: ", "passage: ")
    folder = tmp_path / "my-model"
    folder.mkdir()
    (folder / "config_sentence_transformers.json").write_text(
        '{"prompts": {"query": "Q: ", "document": "D: "}}')
    assert Settings(embedding_model=str(folder)).prompts == ("Q: ", "D: ")
    # Settings win, an empty prompt included.
    assert Settings(embedding_model=str(folder), query_prompt="").prompts == ("", "D: ")


def test_aliases_of_the_offline_models_are_one_name() -> None:
    assert Settings(embedding_model="multilingual-e5-small").embedding_model == DEFAULT_MODEL
    assert Settings(embedding_model="intfloat/multilingual-e5-small").embedding_model == \
        DEFAULT_MODEL
    assert Settings(embedding_model="all-MiniLM-L6-v2").embedding_model == MINILM


def test_cosine_scale_can_be_set_and_must_be_ordered(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(cosine_floor=0.5, cosine_ceiling=0.9).cosine_scale == (0.5, 0.9)
    monkeypatch.setenv("QABOT_COSINE_FLOOR", "0.95")
    with pytest.raises(ConfigError, match="QABOT_COSINE_CEILING must be above"):
        load_settings()


def test_env_example_lists_every_setting_with_a_comment() -> None:
    from tests.conftest import REPO

    lines = (REPO / ".env.example").read_text().splitlines()
    for name in Settings.model_fields:
        variable = f"QABOT_{name.upper()}="
        where = [i for i, line in enumerate(lines) if line.startswith(variable)]
        assert where, f"{variable} missing from .env.example"
        assert any(lines[j].startswith("#") for j in range(max(0, where[0] - 3), where[0]))


def test_env_example_copied_to_dotenv_gives_the_defaults(tmp_path: Path) -> None:
    from tests.conftest import REPO

    (tmp_path / ".env").write_text((REPO / ".env.example").read_text())
    loaded = load_settings()
    assert loaded.model_dump() == Settings(_env_file=None).model_dump()  # type: ignore[call-arg]


def test_session_fixtures_see_none_of_the_developers_settings(shipped_settings: Settings) -> None:
    """Run by the test below with hostile settings around it (and alone, harmlessly)."""
    defaults = Settings.model_fields
    assert shipped_settings.top_k == defaults["top_k"].default
    assert shipped_settings.max_quote_chars == defaults["max_quote_chars"].default
    assert shipped_settings.show_ratio == defaults["show_ratio"].default
    assert not [k for k in os.environ if k.startswith("QABOT_") and
                k not in ("QABOT_MODEL_CACHE", "QABOT_HISTORY_FILE", "QABOT_SERVE_IDLE_SECONDS")
                and not k.startswith("QABOT_TEST_")]


def test_the_developers_env_and_dotenv_never_reach_the_tests(tmp_path: Path,
                                                             model_cache: Path) -> None:
    # A developer who followed the README has a .env and maybe QABOT_* in their shell.
    (tmp_path / ".env").write_text("QABOT_TOP_K=1\nQABOT_MAX_QUOTE_CHARS=120\n")
    env = {**os.environ, "QABOT_SHOW_RATIO": "0.1", "QABOT_TOP_K": "2",
           "QABOT_TEST_MODEL_CACHE": str(model_cache)}
    test = f"{Path(__file__)}::test_session_fixtures_see_none_of_the_developers_settings"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
                         cwd=tmp_path, env=env, capture_output=True, text=True, check=False,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "1 passed" in out.stdout


def test_openmp_spinning_is_shortened_unless_the_user_chose_their_own() -> None:
    """qabot shortens OpenMP's spinning after the model (it held the core BM25 needs), but a
    spin count or wait policy in the environment is the user's and stays as it is."""
    show = "import os, qabot; print(os.environ.get('GOMP_SPINCOUNT'))"
    base = {k: v for k, v in os.environ.items()
            if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    for extra, expected in (({}, "3000"), ({"GOMP_SPINCOUNT": "50"}, "50"),
                            ({"OMP_WAIT_POLICY": "ACTIVE"}, "None")):
        out = subprocess.run([sys.executable, "-c", show], env={**base, **extra},
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out == expected, (extra, out)
