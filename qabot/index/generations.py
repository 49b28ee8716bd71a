"""Index generations on disk: one writer at a time, checksummed manifests, atomic switches.

An index dir holds segment folders (`segments/seg-<time>`: the documents of one update or one
merge, their vectors and their terms, never changed once written), generation folders
(`gen-<time>`: which segments make the index, which of their documents are deleted, the
calibration) and a file CURRENT naming the live generation. Segments and generations are each
written under a temporary name, fsynced, renamed; only then does CURRENT change (write, fsync,
rename). Generations before the one replaced are removed last, and segments that no generation
left names after them. A process killed at any point leaves CURRENT naming a complete
generation whose segments are all there.
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

from qabot.errors import IndexBusyError, IndexCorruptError, IndexMismatchError

__all__ = ["CALIBRATION", "DENSE", "FILES", "FORMAT_VERSION", "GEN_META", "LEXICAL", "MANIFEST",
           "SEGMENTS", "STORE", "STORIES", "TOMBSTONES", "current_generation", "fsync_dir", "new_building_dir",
           "publish", "seal_segment", "segment_dir", "sha256_file", "sync_files", "verify",
           "verify_segment", "write_durably", "writer_lock"]

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
# What a generation holds. FORMAT_VERSION changes whenever these files' layout does.
FORMAT_VERSION = 6
# A segment's files (its dense index is two: see `dense`), and a generation's.
STORE, DENSE, LEXICAL = "qabot.sqlite", "dense", "lexical"
CALIBRATION, GEN_META = "calibration.npy", "meta.json"
TOMBSTONES, STORIES = "tombstones.json", "stories.json"  # deleted documents; renamed stories
FILES = "files.json"  # the corpus files as last read: size, time, documents
SEGMENTS = "segments"
_BUILDING = ".building-"
_GEN = "gen-"
_SEG = "seg-"


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


def new_building_dir(index_dir: Path, *, segment: bool = False) -> Path:
    """A private folder to write the next generation (or a new segment) into (call under
    `writer_lock`)."""
    parent = Path(index_dir) / SEGMENTS if segment else Path(index_dir)
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=_BUILDING, dir=parent))


def segment_dir(index_dir: Path, name: str) -> Path:
    return Path(index_dir) / SEGMENTS / name


def seal_segment(index_dir: Path, building: Path, counts: dict[str, Any]) -> str:
    """Checksum, fsync and rename a written segment; its name. It belongs to no generation
    until one that names it is published (a crash before that leaves it to be collected)."""
    files = {name: {"size": size, "sha256": sha256_file(building / name)}
             for name, size in sync_files(building).items()}
    write_durably(building / MANIFEST, json.dumps({**counts, "files": files}, indent=1))
    name = f"{_SEG}{time.time_ns()}"
    building.rename(segment_dir(index_dir, name))
    fsync_dir(Path(index_dir) / SEGMENTS)
    return name


def verify_segment(index_dir: Path, name: str, *, checksums: bool = False) -> dict[str, Any]:
    """A segment's manifest (its counts), once its files pass `verify`'s checks."""
    return _verify_files(segment_dir(index_dir, name), checksums)


def publish(index_dir: Path, building: Path, manifest: dict[str, Any],
            fresh: set[str] | frozenset[str] = frozenset()) -> Path:
    """Checksum, fsync and rename `building`, make it CURRENT, then drop the generations
    before the one it replaces: that one stays until the next update, so that a reader still
    loading it finishes (and one that loses it anyway reads CURRENT again). The segments it
    names must be sealed; those in `fresh` (written by this update) are read back to the last
    byte first, the others were when they were written."""
    index_dir = Path(index_dir)
    previous = current_generation(index_dir)
    files = {name: {"size": size, "sha256": sha256_file(building / name)}
             for name, size in sync_files(building).items()}
    write_durably(building / MANIFEST, json.dumps({**manifest, "files": files}, indent=1))
    final = index_dir / f"{_GEN}{time.time_ns()}"
    building.rename(final)
    fsync_dir(index_dir)
    try:
        # Read back as written, before anyone is sent to it.
        _verify_files(final, checksums=True)
        for seg in manifest["segments"]:
            verify_segment(index_dir, seg["name"], checksums=seg["name"] in fresh)
    except IndexCorruptError:
        shutil.rmtree(final, ignore_errors=True)
        raise
    write_durably(index_dir / f".{CURRENT}.tmp", final.name + "\n")
    os.replace(index_dir / f".{CURRENT}.tmp", index_dir / CURRENT)
    fsync_dir(index_dir)
    for old in index_dir.iterdir():
        if old.is_dir() and old.name.startswith(_GEN) and old not in (final, previous):
            shutil.rmtree(old, ignore_errors=True)
    _collect_segments(index_dir)
    return final


def _collect_segments(index_dir: Path) -> None:
    """Remove the segments no generation on disk names (merged away, or written by an update
    that died before publishing). Called under `writer_lock`, after generations are pruned."""
    folder = index_dir / SEGMENTS
    if not folder.is_dir():
        return
    named: set[str] = set()
    for gen in index_dir.iterdir():
        if gen.is_dir() and gen.name.startswith(_GEN):
            try:
                named.update(s["name"] for s in
                             json.loads((gen / MANIFEST).read_text())["segments"])
            except (OSError, ValueError, KeyError, TypeError):
                return  # an unreadable generation: keep everything rather than guess
    for seg in folder.iterdir():
        if seg.is_dir() and seg.name.startswith(_SEG) and seg.name not in named:
            shutil.rmtree(seg, ignore_errors=True)


def sync_files(folder: Path) -> dict[str, int]:
    """fsync every file under `folder`, then its folders (so that their entries survive a
    power cut too); the files' sizes, by path relative to it."""
    sizes = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        with open(path, "rb") as fh:
            os.fsync(fh.fileno())
        sizes[path.relative_to(folder).as_posix()] = path.stat().st_size
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
        fsync_dir(sub)
    fsync_dir(folder)
    return sizes


def verify(gen: Path, *, checksums: bool = False) -> dict[str, Any]:
    """The generation's manifest, once every file of it and of its segments has its recorded
    size and, with `checksums`, its recorded SHA-256. Opening an index checks sizes only
    (hashing every file would cost a read of the whole index on every start); writes, merges
    (of what they copy) and `qabot check` check everything."""
    manifest = _verify_files(gen, checksums)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {gen.parent} has format {manifest.get('format_version')}, this "
            f"qabot reads format {FORMAT_VERSION}: run `qabot index --rebuild`")
    try:
        names = [str(s["name"]) for s in manifest["segments"]]
    except (KeyError, TypeError):
        raise IndexCorruptError(f"the index in {gen} has no readable manifest; "
                                "run `qabot index --rebuild`") from None
    for name in names:
        verify_segment(gen.parent, name, checksums=checksums)
    return manifest


def _verify_files(folder: Path, checksums: bool) -> dict[str, Any]:
    fix = "run `qabot index --rebuild`"
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise IndexCorruptError(f"the index in {folder} has no readable manifest; {fix}") from None
    for name, expected in files.items():
        path = folder / name
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
    for parent in (index_dir, index_dir / SEGMENTS):
        if not parent.is_dir():
            continue
        for path in parent.iterdir():
            if path.is_dir() and path.name.startswith(_BUILDING):
                shutil.rmtree(path, ignore_errors=True)
    _collect_segments(index_dir)  # sealed by an update that died before publishing


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
