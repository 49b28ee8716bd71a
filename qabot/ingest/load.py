"""Loading: corpus files (.txt, .md, .html, .jsonl) into Documents, skipping broken ones with a warning."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qabot.errors import CorpusError
from qabot.ingest.analyze import detect_language
from qabot.records import Document
from qabot.timeframe import published_day

__all__ = ["SUPPORTED_SUFFIXES", "LoadReport", "copy_into_corpus", "load_corpus", "load_file"]

log = logging.getLogger(__name__)

_HEADER_KEYS = {"title", "date", "url", "source", "lang", "language"}
_HEADER_LINE = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(.*?)\s*$")
_TITLE_MAX = 200


@dataclass
class LoadReport:
    """What loading a corpus produced: the documents, and one warning line per thing skipped."""

    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: int = 0
    #: Files not read again, as `known` allowed: path -> the ids of their documents.
    kept: dict[str, list[str]] = field(default_factory=dict)
    #: Files read without a warning, or kept: path -> [size, mtime_ns, ctime_ns, inode,
    #: document ids].
    stamps: dict[str, list[Any]] = field(default_factory=dict)
    #: When the files were read (ns since the epoch): see `write._settled`.
    read_at: int = 0

    @property
    def skipped(self) -> int:
        return len(self.warnings)


class _Skip(Exception):
    """A file or line that cannot be loaded; the message says why and what to do."""


def load_corpus(corpus_dir: Path, known: dict[str, Any] | None = None) -> LoadReport:
    """Load every supported file under `corpus_dir`, recursively, in a stable order.

    `known` (an index's record of the files it read, `{"files": {path: [size, mtime_ns,
    ids]}}`) lets a file of the same size and time go unread: its ids are listed in `kept`."""
    stamps = known.get("files") if isinstance(known, dict) else None
    stamps = stamps if isinstance(stamps, dict) else {}
    root = Path(corpus_dir).expanduser()
    if not root.is_dir():
        raise CorpusError(
            f"corpus folder {root} does not exist: create it and put articles in it, "
            "or set QABOT_CORPUS_DIR"
        )
    report = LoadReport(read_at=time.time_ns())
    seen: dict[str, str] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue  # hidden files and folders (.DS_Store, .git) are not articles
        report.files += 1
        stat = path.stat()
        # Size, change times and inode: an edit that kept the size and put the modification
        # time back (`touch -r`, `cp -p`) still changes ctime; a replaced file its inode.
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
        before = stamps.get(rel)
        if (isinstance(before, list) and len(before) == 5 and before[:4] == stamp
                and isinstance(before[4], list) and not any(i in seen for i in before[4])):
            for doc_id in before[4]:
                seen[doc_id] = rel
            report.kept[rel] = [str(i) for i in before[4]]
            report.stamps[rel] = before
            continue
        warned = len(report.warnings)
        ids = []
        for doc_or_warning in _load_path(path, rel):
            if isinstance(doc_or_warning, str):
                report.warnings.append(doc_or_warning)
            elif doc_or_warning.id in seen:
                report.warnings.append(
                    f"{doc_or_warning.path}: duplicate document id {doc_or_warning.id!r} "
                    f"(already in {seen[doc_or_warning.id]}), skipped"
                )
            else:
                seen[doc_or_warning.id] = doc_or_warning.path
                report.documents.append(doc_or_warning)
                ids.append(doc_or_warning.id)
        if len(report.warnings) == warned:  # a file with a warning is read every time
            report.stamps[rel] = [*stamp, ids]
    return report


def copy_into_corpus(paths: list[Path], corpus_dir: Path, *, replace: bool = False) -> list[str]:
    """Copy article files into the corpus folder; one line per file says what happened.

    Checks every file first, so that a refused one leaves the corpus as it was."""
    corpus = Path(corpus_dir).expanduser()
    plan = []
    names: dict[str, Path] = {}
    for src in paths:
        if src.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise CorpusError(f"{src}: unsupported file type {src.suffix or '(none)'}; use one "
                              f"of {', '.join(SUPPORTED_SUFFIXES)}")
        if src.name.startswith("."):
            # The corpus skips hidden files: copied, it would never be indexed.
            raise CorpusError(f"{src}: hidden files are not indexed; rename it without the "
                              "leading dot")
        if src.name in names and names[src.name].resolve() != src.resolve():
            raise CorpusError(f"{names[src.name]} and {src} would both be copied to "
                              f"{corpus / src.name}: rename one of them")
        names[src.name] = src
        dest = corpus / src.name
        if dest.exists() and dest.read_bytes() != src.read_bytes() and not replace:
            raise CorpusError(f"{dest} already exists with other content: rename {src.name}, "
                              "or pass --replace to overwrite it")
        plan.append((src, dest))
    corpus.mkdir(parents=True, exist_ok=True)
    lines = []
    for src, dest in dict.fromkeys(plan):  # the same file named twice is copied once
        if dest.exists() and dest.read_bytes() == src.read_bytes():
            lines.append(f"{dest}: already in the corpus")
            continue
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)  # a watcher never sees half a file
        lines.append(f"added {dest}")
    return lines


def load_file(path: Path, rel: str | None = None) -> list[Document | str]:
    """Load one file: Documents, and warning lines for what was skipped."""
    return list(_load_path(Path(path), rel or Path(path).name))


def _load_path(path: Path, rel: str) -> Iterator[Document | str]:
    suffix = path.suffix.lower()
    try:
        if suffix not in _LOADERS:
            raise _Skip(
                f"unsupported file type {suffix or '(none)'}; use one of "
                + ", ".join(SUPPORTED_SUFFIXES)
            )
        text = _read_text(path)
        loader = _LOADERS[suffix]
        if loader is None:
            yield from _load_jsonl(text, rel)
        else:
            yield _document(rel, **loader(text, path))
    except _Skip as why:
        yield f"{rel}: {why}, skipped"
    except OSError as exc:
        yield f"{rel}: cannot read ({exc.strerror or exc}), skipped"


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise _Skip("empty file")
    if b"\x00" in raw[:8192]:
        raise _Skip("binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Skip(f"not valid UTF-8 (byte {exc.start}); re-save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _document(rel: str, *, text: str, title: str | None = None, doc_id: str | None = None,
              date: Any = None, url: Any = None, source: Any = None, lang: Any = None) -> Document:
    body = text.strip("\n")
    if not body.strip():
        raise _Skip("no text")
    lang_code = _lang_code(lang) or detect_language(body)
    title_text = _clean(title) or Path(rel).stem.replace("_", " ")
    fields = [title_text, _clean(date), _clean(url), _clean(source)]
    digest = hashlib.sha256(json.dumps([fields, lang_code, body]).encode()).hexdigest()
    day = published_day(fields[1])
    if fields[1] and day is None:
        # Kept, undated: it still answers questions that name no time.
        log.warning("%s: date %r not understood, the article counts as undated (write it as "
                    "YYYY-MM-DD)", rel, fields[1][:40])
    return Document(id=doc_id or rel, title=title_text, text=body, path=rel, lang=lang_code,
                    content_hash=digest, date=fields[1], url=fields[2], source=fields[3],
                    published=day.isoformat() if day else None)


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _lang_code(value: Any) -> str | None:
    code = _clean(value)
    return code.lower().replace("_", "-").split("-")[0] if code else None


def _load_txt(text: str, path: Path) -> dict[str, Any]:
    """Optional `Key: value` header lines (Title, Date, URL, Source, Lang) at the top, usually
    followed by a blank line; without them, a short first line is the title."""
    lines = text.split("\n")
    meta: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _HEADER_LINE.match(lines[i])
        if not m or m.group(1).lower() not in _HEADER_KEYS:
            break
        meta[m.group(1).lower()] = m.group(2)
        i += 1
    body = "\n".join(lines[i:])
    if not meta:
        first = text.lstrip("\n").split("\n", 1)
        if len(first) == 2 and 0 < len(first[0].strip()) <= _TITLE_MAX:
            meta["title"], body = first[0].strip(), first[1]
    return {"text": body, "title": meta.get("title"), "date": meta.get("date"),
            "url": meta.get("url"), "source": meta.get("source"),
            "lang": meta.get("lang") or meta.get("language")}


def _load_md(text: str, path: Path) -> dict[str, Any]:
    """YAML front matter between `---` lines; else the first `# heading` is the title."""
    import yaml

    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end == -1:
            raise _Skip("front matter opened with --- but never closed")
        try:
            loaded = yaml.safe_load(text[4:end])
        except yaml.YAMLError as exc:
            raise _Skip(f"invalid YAML front matter ({_first_line(exc)})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise _Skip("front matter is not a mapping of keys to values")
        meta = {str(k).lower(): v for k, v in (loaded or {}).items()}
        body = text[end + 4:].split("\n", 1)[1] if "\n" in text[end + 4:] else ""
    title = meta.get("title")
    if not title:
        m = re.match(r"\s*#\s+(.+)\n?", body)
        if m:
            title, body = m.group(1).strip(), body[m.end():]
    return {"text": body, "title": title, "date": meta.get("date"), "url": meta.get("url"),
            "source": meta.get("source"), "lang": meta.get("lang") or meta.get("language")}


def _load_html(text: str, path: Path) -> dict[str, Any]:
    """The main text (article or main element, else body) and the page's metadata."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")

    def meta(*names: str) -> str | None:
        for name in names:
            tag = soup.find("meta", attrs={"property": name}) or soup.find(
                "meta", attrs={"name": name}
            )
            if tag and tag.get("content"):
                return str(tag["content"])
        return None

    title = meta("og:title") or (soup.title.get_text(" ", strip=True) if soup.title else None)
    canonical = soup.find("link", rel="canonical")
    url = meta("og:url") or (str(canonical["href"]) if canonical and canonical.get("href") else None)
    html_tag = soup.find("html")
    lang = html_tag.get("lang") if html_tag else None
    date = meta("article:published_time", "date", "dc.date", "pubdate")
    source = meta("og:site_name", "publisher")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form",
                     "template", "svg", "title", "head"]):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    blocks = [
        " ".join(el.get_text().split())
        for el in root.find_all(["p", "h1", "h2", "h3", "h4", "li", "blockquote", "pre", "td"])
        if not el.find_parent(["p", "li", "blockquote"])
    ]
    body = "\n\n".join(b for b in blocks if b)
    if not body:
        body = "\n\n".join(" ".join(line.split()) for line in root.get_text("\n").split("\n\n"))
    return {"text": body, "title": title, "date": date, "url": url, "source": source,
            "lang": lang if isinstance(lang, str) else None}


def _load_jsonl(text: str, rel: str) -> Iterator[Document | str]:
    """One article per line: `id`, `title`, `text`, optional `url`, `date`, `source`, `lang`."""
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{rel}:{number}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield f"{where}: invalid JSON ({exc.msg}), line skipped"
            continue
        if not isinstance(obj, dict):
            yield f"{where}: not a JSON object, line skipped"
            continue
        missing = [k for k in ("id", "title", "text") if not _clean(obj.get(k))]
        if missing:
            yield f"{where}: missing {', '.join(missing)}, line skipped"
            continue
        try:
            yield _document(
                where, text=str(obj["text"]), title=str(obj["title"]), doc_id=str(obj["id"]),
                date=obj.get("date"), url=obj.get("url"), source=obj.get("source"),
                lang=obj.get("lang"),
            )
        except _Skip as why:
            yield f"{where}: {why}, line skipped"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().split("\n", 1)[0]


_LOADERS: dict[str, Callable[[str, Path], dict[str, Any]] | None] = {
    ".txt": _load_txt,
    ".md": _load_md,
    ".markdown": _load_md,
    ".html": _load_html,
    ".htm": _load_html,
    ".jsonl": None,  # handled line by line
}
SUPPORTED_SUFFIXES = tuple(_LOADERS)
