"""Index generations on disk: one writer at a time, checksummed manifests, atomic switches.

An index dir holds generation folders (`gen-<time>`) and a file CURRENT naming the live one. A
new generation is written beside the old one under a temporary name, fsynced, renamed, and only
then does CURRENT change (write, fsync, rename); the generation before the old one is removed
last. A process killed at any point leaves CURRENT naming a complete generation.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qabot.errors import IndexBusyError, IndexCorruptError

__all__ = ["CALIBRATION", "DENSE", "FORMAT_VERSION", "LEXICAL", "MANIFEST", "STORE",
           "current_generation", "fsync_dir", "new_building_dir", "publish",
           "sha256_file", "sync_files", "verify", "write_durably", "writer_lock"]

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
# What a generation holds. FORMAT_VERSION changes whenever these files' layout does.
FORMAT_VERSION = 5
STORE, DENSE, LEXICAL, CALIBRATION = "qabot.sqlite", "dense.faiss", "lexical", "calibration.npy"
_BUILDING = ".building-"
_GEN = "gen-"


def current_generation(index_dir: Path) -> Path | None:
    """The live generation's folder, or None when nothing was ever published."""
    try:
        name = (Path(index_dir) / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return Path(index_dir) / name if name else None


@contextlib.contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time. The kernel drops the lock when its process dies, so a crashed
    `qabot index` never leaves a stale lock behind."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(
                f"another `qabot index` is writing {index_dir}; wait for it to finish"
            ) from None
        try:
            _remove_leftovers(index_dir)
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def new_building_dir(index_dir: Path) -> Path:
    """A private folder to write the next generation into (call under `writer_lock`)."""
    return Path(tempfile.mkdtemp(prefix=_BUILDING, dir=index_dir))


def publish(index_dir: Path, building: Path, manifest: dict[str, Any]) -> Path:
    """Checksum, fsync and rename `building`, make it CURRENT, then drop the generations
    before the one it replaces: that one stays until the next update, so that a reader still
    loading it finishes (and one that loses it anyway reads CURRENT again)."""
    index_dir = Path(index_dir)
    previous = current_generation(index_dir)
    files = {name: {"size": size, "sha256": sha256_file(building / name)}
             for name, size in sync_files(building).items()}
    write_durably(building / MANIFEST, json.dumps({**manifest, "files": files}, indent=1))
    final = index_dir / f"{_GEN}{time.time_ns()}"
    building.rename(final)
    fsync_dir(index_dir)
    try:
        verify(final, checksums=True)  # read back as written, before anyone is sent to it
    except IndexCorruptError:
        shutil.rmtree(final, ignore_errors=True)
        raise
    write_durably(index_dir / f".{CURRENT}.tmp", final.name + "\n")
    os.replace(index_dir / f".{CURRENT}.tmp", index_dir / CURRENT)
    fsync_dir(index_dir)
    for old in index_dir.iterdir():
        if old.is_dir() and old.name.startswith(_GEN) and old not in (final, previous):
            shutil.rmtree(old, ignore_errors=True)
    return final


def sync_files(folder: Path) -> dict[str, int]:
    """fsync every file under `folder`; their sizes, by path relative to it."""
    sizes = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        sizes[path.relative_to(folder).as_posix()] = path.stat().st_size
    return sizes


def verify(gen: Path, *, checksums: bool = False) -> dict[str, Any]:
    """The generation's manifest, once every file has its recorded size and, with
    `checksums`, its recorded SHA-256. Opening an index checks sizes only (hashing every file
    would cost a read of the whole index on every start); writes, the writer's reuse of the
    live generation and `qabot check` check everything."""
    fix = "run `qabot index --rebuild`"
    try:
        manifest = json.loads((gen / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise IndexCorruptError(f"the index in {gen} has no readable manifest; {fix}") from None
    for name, expected in files.items():
        path = gen / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise IndexCorruptError(f"{path} is missing from the index; {fix}") from None
        if size != expected["size"]:
            raise IndexCorruptError(f"{path} is damaged ({size} bytes, the manifest says "
                                    f"{expected['size']}); {fix}")
        if checksums and sha256_file(path) != expected["sha256"]:
            raise IndexCorruptError(
                f"{path} is damaged (its checksum does not match the manifest); {fix}")
    return dict(manifest)


def _remove_leftovers(index_dir: Path) -> None:
    """Folders of builds that died before publishing (safe: we hold the writer lock)."""
    for path in index_dir.iterdir():
        if path.is_dir() and path.name.startswith(_BUILDING):
            shutil.rmtree(path, ignore_errors=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_durably(path: Path, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
