"""The `qabot` command as a user runs it: real processes, exit codes, output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from qabot.config import Settings
from tests.conftest import CORPUS, clean_env, write


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    full_env = clean_env()
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "qabot", *args], input=stdin, text=True, check=False,
                          capture_output=True, env=full_env, cwd=cwd, timeout=300)


@pytest.fixture()
def index_env(shipped_settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {"QABOT_INDEX_DIR": str(shipped_settings.index_dir),
            "QABOT_CORPUS_DIR": str(CORPUS),
            "QABOT_HISTORY_FILE": str(tmp_path / "history")}


def test_help_and_config_errors_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from qabot.frontends.cli import main\n"
        "code = 0\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'faiss', 'transformers')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy, 'CODE', code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, "--help"], text=True, capture_output=True,
                         check=False)
    assert "HEAVY [] CODE 0" in out.stdout
    assert "ask" in out.stdout and "index" in out.stdout
    env = {**os.environ, "QABOT_TOP_K": "many"}
    out = subprocess.run([sys.executable, "-c", code, "stats"], text=True, capture_output=True,
                         check=False,
                         env=env)
    assert "HEAVY [] CODE 2" in out.stdout


def test_invalid_setting_is_one_line_and_exit_2() -> None:
    result = run("ask", "Quoi ?", env={"QABOT_MIN_RELEVANCE": "high"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        ("qabot: invalid setting QABOT_MIN_RELEVANCE='high': Input should be a valid number, "
        "unable to parse string as a number")]


def test_no_index_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = run("ask", "Quoi ?", env={"QABOT_INDEX_DIR": str(tmp_path / "none")})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"qabot: no index in {tmp_path / 'none'}: run `qabot index` first to build it")
    assert "Traceback" not in result.stderr
    result = run("repl", env={"QABOT_INDEX_DIR": str(tmp_path / "none")}, stdin="Quoi ?\n")
    assert result.returncode == 1 and "run `qabot index`" in result.stderr


def test_unknown_command_is_a_usage_error() -> None:
    result = run("frobnicate")
    assert result.returncode == 2
    assert "No such command 'frobnicate'" in result.stderr


def test_index_reports_skipped_files_and_then_is_up_to_date(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(corpus / "article.txt", (CORPUS / "000_d5078016723e65e9.txt").read_text())
    write(corpus / "broken.txt", b"\xff\xfe\x00\x00garbage")
    env = {"QABOT_CORPUS_DIR": str(corpus), "QABOT_INDEX_DIR": str(tmp_path / "index")}
    first = run("index", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == ["warning: broken.txt: binary file, not text, skipped"]
    assert first.stdout.startswith("Index updated in ")
    assert ": 1 added, 0 updated, 0 removed, 1 skipped (see warnings above); 1 document, " in first.stdout
    second = run("index", env=env)
    assert second.stdout.startswith("Index is up to date: 1 document")


def test_ask_json(index_env: dict[str, str]) -> None:
    result = run("ask", "--json", "-k", "2", "Quel ministre a reçu l'envoyé américain ?",
                 env=index_env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["question"] == "Quel ministre a reçu l'envoyé américain ?"
    assert data["answered"] is True
    assert 1 <= len(data["passages"]) <= 2
    first = data["passages"][0]
    assert "Abdoulaye Diop" in first["highlight"]
    assert first["highlight"] in first["quote"]
    assert first["date"] == "2025-07-22"
    assert first["title"].startswith("Mali")
    assert isinstance(first["score"], float)


def test_ask_off_topic_plain_text_in_french(index_env: dict[str, str]) -> None:
    result = run("ask", "Quelle est la recette de la tarte tatin ?", env=index_env)
    assert result.returncode == 0
    assert result.stdout.strip() == "Le corpus ne contient rien qui réponde à cette question."
    data = json.loads(run("ask", "--json", "How do I knit a scarf?", env=index_env).stdout)
    assert data == {"question": "How do I knit a scarf?", "answered": False, "passages": [],
                    "held_back": 0, "window": None, "source": None, "outside_window": False}


def test_stats(index_env: dict[str, str]) -> None:
    result = run("stats", env=index_env)
    assert result.returncode == 0
    lines = dict(line.split(None, 1) for line in result.stdout.strip().splitlines())
    assert lines["Documents"] == "1"
    assert lines["Model"] == "intfloat/multilingual-e5-small (384 dimensions)"
    assert "ago" in lines["Built"]
    data = json.loads(run("stats", "--json", env=index_env).stdout)
    assert data["documents"] == 1 and data["dimension"] == 384


def test_repl_reads_questions_from_a_pipe(index_env: dict[str, str]) -> None:
    questions = ("Combien de recrues sont arrivées au camp de Bougouni ?\n"
                 ":k 1\n"
                 "How do I knit a scarf?\n"
                 ":sources\n"
                 ":quit\n"
                 "Never asked\n")
    result = run("repl", env=index_env, stdin=questions)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "900 nouvelles recrues" in out
    assert "— Mali : l’envoyé américain" in out
    assert "Showing 1 passage per answer." in out
    assert "Nothing in the corpus answers that." in out
    assert "- Mali : l’envoyé américain pour le Sahel à Bamako, nouvelles recrues à Bougouni" in out
    assert out.count("[1]") == 1


def test_repl_holds_back_weak_passages_until_more(index_env: dict[str, str]) -> None:
    questions = ("Combien de recrues à Bougouni ?\n"
                 ":more\n"
                 ":k 3\n"
                 "Combien de recrues à Bougouni ?\n"
                 ":k auto\n")
    out = run("repl", env=index_env, stdin=questions).stdout
    before_k, after_k = out.split("Showing 3 passages per answer.")
    assert "passage(s) moins pertinent(s) non affiché(s) : :more." in before_k
    assert before_k.count("[1]") == 1
    assert "[2]" in before_k and "Abdoulaye Diop" in before_k  # :more numbers on from 2
    assert after_k.count("[1]") == 1 and "[3]" in after_k  # :k 3: three, however weak
    assert "non affiché" not in after_k
    assert "Showing up to 3 passages, less those far below the best." in after_k


def test_ask_holds_back_weak_passages_unless_k_is_given(index_env: dict[str, str]) -> None:
    plain = run("ask", "Combien de recrues à Bougouni ?", env=index_env).stdout
    assert plain.count("[1]") == 1 and "[2]" not in plain
    assert plain.strip().endswith("non affiché(s) : -k 3.")
    data = json.loads(run("ask", "--json", "-k", "3", "Combien de recrues à Bougouni ?",
                          env=index_env).stdout)
    assert len(data["passages"]) == 3 and data["held_back"] == 0


def test_repl_in_a_terminal(index_env: dict[str, str], tmp_path: Path) -> None:
    env = clean_env()
    env.update(index_env, TERM="xterm", COLUMNS="200", PROMPT_TOOLKIT_NO_CPR="1")
    child = pexpect.spawn(sys.executable, ["-m", "qabot", "repl"], env=env, encoding="utf-8",
                          timeout=120, dimensions=(50, 200))
    try:
        child.expect_exact("qabot>")
        child.sendline(":help")
        child.expect_exact(":k N")
        child.expect_exact("qabot>")
        child.sendline("Quel ministre a reçu l'envoyé américain ?")
        child.expect_exact("Abdoulaye Diop")
        child.expect_exact("2025-07-22")
        child.expect_exact("qabot>")
        child.send("a line I change my mind about")
        child.sendintr()  # Ctrl-C drops the line, the REPL goes on
        child.expect_exact("qabot>")
        child.sendline(":k 0")
        child.expect_exact("usage: :k N")
        child.expect_exact("qabot>")
        child.sendeof()  # Ctrl-D leaves cleanly
        child.expect_exact("Bye.")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    history = (tmp_path / "history").read_text()
    assert "Quel ministre a reçu l'envoyé américain ?" in history


def test_python_m_and_console_script_agree(index_env: dict[str, str]) -> None:
    script = Path(sys.executable).with_name("qabot")
    env = {**clean_env(), **index_env}
    for args in (["--help"], ["sources"], ["frobnicate"]):
        by_script = subprocess.run([str(script), *args], text=True, capture_output=True,
                                   check=False, env=env)
        by_module = run(*args, env=index_env)
        assert (by_script.returncode, by_script.stdout, by_script.stderr) == \
            (by_module.returncode, by_module.stdout, by_module.stderr), args
    assert "Usage: qabot" in by_script.stderr  # the unknown command's usage error
    assert run("--help").stdout.startswith("Usage: qabot")


def test_sources_reads_only_the_metadata_store(index_env: dict[str, str]) -> None:
    """Listing titles needs neither FAISS nor the model: it is instant on any index size."""
    code = (
        "import sys\n"
        "from qabot.frontends.cli import main\n"
        "try:\n    main(['sources'])\nexcept SystemExit as e:\n    assert not e.code\n"
        "print('HEAVY', [m for m in ('torch', 'sentence_transformers', 'faiss', 'bm25s')"
        " if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], text=True, capture_output=True,
                         check=False, env={**clean_env(), **index_env})
    assert "HEAVY []" in out.stdout, out.stderr
    assert "Mali : l’envoyé américain" in out.stdout
