"""The `qabot` command: a thin shell over the qabot API; errors become one line on stderr."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qabot.config import Settings, load_settings
from qabot.errors import ConfigError, QabotError
from qabot.frontends.redact import Redactor

if TYPE_CHECKING:
    from qabot.engine import Qabot

__all__ = ["app", "main"]

app = typer.Typer(
    name="qabot",
    help="Ask questions about a news corpus; get verbatim quotes with their citations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

DEMO_QUESTION = "Combien de recrues sont arrivées au camp de Bougouni ?"
EVAL_MODES = ("hybrid", "lexical", "dense", "rrf")


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


_redactor = Redactor(())  # replaced once the settings are read


@app.callback()
def _root(ctx: typer.Context) -> None:
    """Settings come from QABOT_* environment variables and .env (see .env.example)."""
    global _redactor
    settings = load_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    _redactor = Redactor(settings.secrets)
    _redactor.install()
    ctx.obj = settings


def _open(settings: Settings) -> Qabot:
    from qabot.engine import Qabot

    return Qabot.open(settings)


@app.command()
def index(
    ctx: typer.Context,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Start over instead of updating.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Keep watching the corpus folder and "
                                                        "update on every change, until Ctrl-C.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Bring the index up to date with the corpus folder (only what changed is embedded)."""
    settings = _settings(ctx)
    if not watch:
        _update(settings, rebuild=rebuild, quiet=quiet)
        return
    from qabot.index.watch import watch_corpus

    first = [rebuild]  # --rebuild applies to the first update only

    def update() -> None:
        _update(settings, rebuild=first.pop() if first else False, quiet=True)

    watch_corpus(settings, update)


@app.command()
def add(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Article files to add.", exists=True,
                                                dir_okay=False, readable=True)],
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite corpus files of the "
                                                            "same name.")] = False,
) -> None:
    """Copy article files into the corpus folder and index them, in one step."""
    from qabot.ingest.load import copy_into_corpus

    settings = _settings(ctx)
    for line in copy_into_corpus(paths, settings.corpus_dir, replace=replace):
        typer.echo(line)
    _update(settings, rebuild=False, quiet=False)


def _update(settings: Settings, *, rebuild: bool, quiet: bool) -> None:
    from qabot.index.write import build_index

    def warn(line: str) -> None:
        typer.echo(f"warning: {line}", err=True)

    s = build_index(settings, rebuild=rebuild, progress=not quiet and sys.stderr.isatty(),
                    on_warning=warn)
    total = f"{_plural(s.documents, 'document')}, {_plural(s.chunks, 'chunk')}"
    skipped = f", {len(s.warnings)} skipped (see warnings above)" if s.warnings else ""
    if s.up_to_date:
        typer.echo(f"Index is up to date: {total}{skipped}.")
    else:
        regrouped = (f", stories regrouped at QABOT_DUPLICATE_THRESHOLD="
                     f"{settings.duplicate_threshold}" if s.regrouped else "")
        typer.echo(f"Index updated in {s.seconds:.1f} s: {s.added} added, {s.updated} updated, "
                   f"{s.removed} removed{regrouped}{skipped}; {total} "
                   f"({_plural(s.embedded, 'sentence')} embedded). "
                   f"Index: {settings.index_dir}")


@app.command()
def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    k: Annotated[int | None, typer.Option("-k", min=1, max=50, help=(
        "Passages to show, however weak; without it, up to QABOT_TOP_K, less those far "
        "below the best."))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only articles published on this day (YYYY-MM-DD) or later.")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="Only articles published on this day (YYYY-MM-DD) or earlier.")] = None,
    source: Annotated[str | None, typer.Option(
        "--source", help="Only articles from this source (part of its name or web "
                         "address, any case).")] = None,
) -> None:
    """Answer one question and exit. A time the question names ("last week", "en juillet
    2025") limits the articles searched too. A running `qabot serve` answers it when there is
    one; else it is answered here, and a server is started for the next ones."""
    settings = _settings(ctx)
    days = _day(since, "--since"), _day(until, "--until")
    if days[0] and days[1] and days[0] > days[1]:
        raise ConfigError(f"--since {since} is after --until {until}: swap them or drop one")
    fmt = "json" if as_json else "rich" if sys.stdout.isatty() else "plain"
    from qabot.frontends.server import ask_server, start_server

    reply = ask_server(settings, {
        "question": question, "k": k, "format": fmt, "source": source,
        "since": days[0].isoformat() if days[0] else None,
        "until": days[1].isoformat() if days[1] else None,
        "width": shutil.get_terminal_size().columns})
    if reply is not None:
        if not reply.get("ok"):
            error = QabotError(str(reply.get("error")))
            error.exit_code = int(reply.get("exit", 1))
            raise error
        sys.stdout.write(str(reply["out"]))
        return
    from qabot.frontends.render import answer_output
    from qabot.search.filters import Filters

    answer = _open(settings).ask(question, k=k, filters=Filters(*days, source))
    sys.stdout.write(answer_output(answer, fmt, f"-k {settings.top_k}",
                                   shutil.get_terminal_size().columns))
    sys.stdout.flush()
    start_server(settings)


@app.command()
def latest(
    ctx: typer.Context,
    n: Annotated[int, typer.Argument(min=1, max=100, help="How many stories.")] = 10,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only stories with an article published on this day (YYYY-MM-DD) "
                        "or later.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The newest stories, each once (copies and other outlets' versions listed with it)."""
    from qabot.frontends.messages import terminal_language
    from qabot.frontends.render import plain_stories, rich_stories
    from qabot.index.open import read_latest

    day = _day(since, "--since")
    stories = read_latest(_settings(ctx), n, day.isoformat() if day else None)
    lang = terminal_language()
    if as_json:
        typer.echo(json.dumps({"stories": [s.to_json() for s in stories]}, ensure_ascii=False))
    elif sys.stdout.isatty():
        from rich.console import Console

        Console(highlight=False).print(rich_stories(stories, lang))
    else:
        typer.echo(plain_stories(stories, lang))


def _day(value: str | None, option: str) -> date | None:
    """An option's day, or one line that says how to write it."""
    if value is None:
        return None
    from qabot.timeframe import parse_day

    try:
        return parse_day(value)
    except ValueError as exc:
        raise ConfigError(f"{option} {value!r}: {exc}") from None


@app.command()
def serve(
    ctx: typer.Context,
    idle: Annotated[int, typer.Option("--idle", min=0, help="Leave after this many seconds "
                                                            "without a question (0: never).")] = 0,
) -> None:
    """Keep the model loaded and answer `qabot ask` over a Unix socket in the index folder."""
    from qabot.frontends.server import serve as run_server

    run_server(_settings(ctx), idle)


@app.command()
def repl(ctx: typer.Context) -> None:
    """Ask questions interactively (one per line when stdin is not a terminal)."""
    from qabot.frontends.repl import run_repl

    settings = _settings(ctx)
    run_repl(_open(settings), settings)


@app.command(name="eval")
def evaluate_command(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Argument(help="A SQuAD v1 .json file.")],
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="Passages per question.")] = 5,
    mode: Annotated[list[str] | None, typer.Option(
        "--mode", help="hybrid, lexical, dense or rrf (reciprocal-rank fusion, a baseline for "
                       "hybrid); repeat for several (default: all four).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="First N questions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    recency: Annotated[float, typer.Option(
        "--recency-half-life", min=0.0, help="Turn the recency prior on with this half-life "
                                             "in days (default: off).")] = 0.0,
) -> None:
    """Measure answer quality on a SQuAD v1 file, in a temporary index (yours is untouched)."""
    from qabot.frontends.evaluate import evaluate, load_squad

    modes = mode or list(EVAL_MODES)
    bad = [m for m in modes if m not in EVAL_MODES]
    if bad:
        raise QabotError(f"unknown mode {bad[0]!r}: use {', '.join(EVAL_MODES)}")
    data = load_squad(dataset)
    count = min(limit or len(data.questions), len(data.questions))
    from tqdm import tqdm

    with tqdm(total=count * len(modes), unit="question", desc="Evaluating", leave=False,
              disable=as_json or not sys.stderr.isatty()) as bar:
        report = evaluate(_settings(ctx), data, modes=modes, k=k, limit=limit,  # type: ignore[arg-type]
                          on_progress=bar.update, recency_half_life_days=recency)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{dataset.name}: {report['questions']} questions, "
                        f"{report['documents']} articles, {report['chunks']} chunks "
                        f"(indexed in {report['index_seconds']:.1f} s), {report['model']}")
    columns = ["hit@1", "hit@3", "hit@5", "highlight@1", "mrr@5", "answered",
               "latency_ms_p50", "latency_ms_p95"]
    table.add_column("mode")
    for name in columns:
        table.add_column(name.replace("latency_ms_", "ms "), justify="right")
    for name, row in report["modes"].items():
        table.add_row(name, *(f"{row[c]:.3f}" if not c.startswith("latency") else f"{row[c]:.1f}"
                              for c in columns))
    Console().print(table)


@app.command()
def bot(ctx: typer.Context) -> None:
    """Run the Telegram bot (QABOT_TELEGRAM_TOKEN; webhook mode with QABOT_TELEGRAM_WEBHOOK_URL)."""
    from qabot.frontends.telegram.run import run_bot

    run_bot(_settings(ctx))


@app.command()
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Documents, chunks, model, index size and age."""
    from qabot.frontends.telegram.feedback import read_counts
    from qabot.index.open import read_stats

    settings = _settings(ctx)
    s = read_stats(settings)
    votes = read_counts(settings.index_dir)
    if as_json:
        typer.echo(json.dumps({"documents": s.documents, "chunks": s.chunks, "model": s.model,
                               "dimension": s.dimension, "languages": list(s.languages),
                               "size_bytes": s.size_bytes, "built_at": s.built_at,
                               "age_seconds": round(s.age_seconds), "path": str(s.path),
                               "feedback": {"up": votes.up if votes else 0,
                                            "down": votes.down if votes else 0}}))
        return
    rows = [
        ("Documents", str(s.documents)),
        ("Chunks", str(s.chunks)),
        ("Languages", ", ".join(s.languages) or "-"),
        ("Model", f"{s.model} ({s.dimension} dimensions)"),
        ("Index", f"{s.path} ({_size(s.size_bytes)})"),
        ("Built", f"{s.built_at} ({_age(s.age_seconds)} ago)"),
        ("Feedback", f"{votes.up} 👍, {votes.down} 👎" if votes else "none yet"),
    ]
    for name, value in rows:
        typer.echo(f"{name:<10} {value}")


@app.command()
def check(ctx: typer.Context) -> None:
    """Verify the index to the last byte (checksums, SQLite, FAISS); exit 1 on damage."""
    from qabot.index.open import check_index

    r = check_index(_settings(ctx))
    typer.echo(f"Index {r.path} is sound: {_plural(r.files, 'file')} ({_size(r.size_bytes)}) "
               f"match their checksums; {_plural(r.documents, 'document')}, "
               f"{_plural(r.sentences, 'sentence')}, {_plural(r.chunks, 'chunk')}.")


@app.command()
def sources(ctx: typer.Context) -> None:
    """List the documents in the index."""
    from qabot.frontends.render import citation_line
    from qabot.index.open import read_sources

    for citation in read_sources(_settings(ctx)):
        typer.echo(citation_line(citation))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _age(seconds: float) -> str:
    for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= length:
            return _plural(int(seconds // length), unit)
    return _plural(int(seconds), "second")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every failure into one line and an exit code."""
    try:
        app(args=argv, prog_name="qabot", standalone_mode=False)
    except QabotError as exc:
        typer.echo(_redactor.text(f"qabot: {exc}"), err=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # the edge: users get one line, never a traceback
        code = getattr(exc, "exit_code", None)
        if hasattr(exc, "show") and isinstance(code, int):
            exc.show()  # a usage error, as click words it (typer may vendor its own click)
            sys.exit(code)
        if os.environ.get("QABOT_TRACEBACK"):
            raise
        logging.getLogger("qabot").debug("unexpected error", exc_info=True)
        typer.echo(_redactor.text(f"qabot: unexpected error: {type(exc).__name__}: {exc} "
                                  "(set QABOT_TRACEBACK=1 to see where)"), err=True)
        sys.exit(1)
