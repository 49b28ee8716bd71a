from __future__ import annotations

from pathlib import Path

import pytest

from qabot.config import DEFAULT_MODEL, Settings, load_settings, resolve_model_path
from qabot.errors import ConfigError


def test_defaults() -> None:
    s = load_settings()
    assert s.corpus_dir == Path("corpus")
    assert s.index_dir == Path("index")
    assert s.embedding_model == DEFAULT_MODEL
    assert s.fusion_weights == (0.4, 0.6)


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
        ("QABOT_MIN_SCORE", "2", "invalid setting QABOT_MIN_SCORE='2'"),
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


def test_default_model_resolves_to_the_offline_copy() -> None:
    path = Path(resolve_model_path(DEFAULT_MODEL))
    assert path.is_dir()
    assert (path / "modules.json").exists()
    assert "site-packages" in str(path)


def test_other_models_pass_through(tmp_path: Path) -> None:
    assert resolve_model_path("intfloat/multilingual-e5-small") == "intfloat/multilingual-e5-small"
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)
    assert Settings(embedding_model=str(tmp_path)).embedding_model == str(tmp_path)


def test_aliases_of_the_default_model_are_one_name() -> None:
    assert Settings(embedding_model="all-MiniLM-L6-v2").embedding_model == DEFAULT_MODEL


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
