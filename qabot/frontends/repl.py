"""The interactive loop: prompt_toolkit with history on a terminal, one question per line otherwise."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.text import Text

from qabot.config import Settings
from qabot.engine import MAX_PASSAGES, Qabot
from qabot.errors import QabotError
from qabot.frontends.messages import say, terminal_language
from qabot.frontends.render import (
    citation_line,
    plain_answer,
    plain_stories,
    rich_answer,
    rich_stories,
)
from qabot.records import Story
from qabot.search.filters import Filters
from qabot.search.question import question_language
from qabot.timeframe import parse_day

__all__ = ["HELP", "run_repl"]

HELP = """Type a question and press Enter. Commands:
  :help       this help
  :more       the next passages for the last question
  :k N        show N passages per answer, however weak; :k auto: up to {top_k}, less those
              far below the best (now {k})
  :sources    list the articles in the corpus
  :latest [N] the N newest stories (default 10)
  :since DAY  only articles published on DAY (YYYY-MM-DD) or later; :since off (now {since})
  :until DAY  only articles published on DAY or earlier; :until off (now {until})
  :source S   only articles from source S (part of its name or web address); :source off
              (now {source})
  A time in the question ("la semaine dernière", "in July 2025") limits the articles too.
  :quit       leave (Ctrl-D works too; Ctrl-C cancels the line)"""


class _Session:
    """State shared by the terminal and the piped loops: the bot, k (None: auto), the last
    question and how many of its passages were shown, and where output goes."""

    def __init__(self, bot: Qabot, top_k: int, out: Callable[[object], None],
                 stories: Callable[[list[Story], str], object] = plain_stories) -> None:
        self.bot = bot
        self.top_k = top_k
        self.k: int | None = None
        self.out = out
        self.stories = stories
        self.filters = Filters()
        # The last question, how many of its passages were shown, and the filters it had.
        self.last: tuple[str, int, Filters] | None = None

    def handle(self, line: str, render: Callable[..., object]) -> bool:
        """Run one line; False means quit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if line.startswith(":"):
            return self._command(line, render)
        try:
            answer = self.bot.ask(line, k=self.k, filters=self.filters)
        except QabotError as exc:
            self.out(f"error: {exc}")
            return True
        self.last = (line, len(answer.passages), self.filters) if answer.answered else None
        self.out(render(answer, ":more"))
        return True

    def _more(self, render: Callable[..., object]) -> None:
        if self.last is None:
            self.out("No answer to add to: :more shows the next passages of the last answer.")
            return
        question, seen, filters = self.last
        if seen >= MAX_PASSAGES:
            self.out(say("no_more", question_language(question)))
            return
        try:
            answer = self.bot.ask(question, offset=seen, filters=filters)
        except QabotError as exc:
            self.out(f"error: {exc}")
            return
        if not answer.passages:
            self.out(say("no_more", answer.lang))
            return
        self.last = (question, seen + len(answer.passages), filters)
        self.out(render(answer, "", seen + 1))

    def _command(self, line: str, render: Callable[..., object]) -> bool:
        name, _, given = line[1:].partition(" ")
        name, given = name.lower(), given.strip()
        arg = given.lower()
        if name in {"q", "quit", "exit"}:
            return False
        if name in {"h", "help", "?"}:
            f = self.filters
            self.out(HELP.format(top_k=self.top_k, k=self.k or "auto", since=f.since or "off",
                                 until=f.until or "off", source=f.source or "off"))
        elif name in {"since", "until"}:
            self._day_filter(name, arg)
        elif name == "source":
            self.filters = replace(self.filters, source=None if arg in {"", "off"} else given)
            self.out(f"Source: {self.filters.source or 'any'}.")
        elif name == "latest":
            if arg and not (arg.isdigit() and 1 <= int(arg) <= 100):
                self.out("usage: :latest N, with N from 1 to 100")
            else:
                stories = self.bot.latest(int(arg) if arg else 10, self.filters.since)
                self.out(self.stories(stories, terminal_language()))
        elif name == "more":
            self._more(render)
        elif name == "k":
            if arg == "auto":
                self.k = None
                self.out(f"Showing up to {self.top_k} passages, less those far below the best.")
            elif arg.isdigit() and 1 <= int(arg) <= 50:
                self.k = int(arg)
                self.out(f"Showing {self.k} passage{'s' if self.k > 1 else ''} per answer.")
            else:
                self.out("usage: :k N, with N from 1 to 50, or :k auto")
        elif name == "sources":
            for c in self.bot.sources():
                self.out(f"- {citation_line(c)}")
        else:
            self.out(f"unknown command :{name}; type :help")
        return True


    def _day_filter(self, name: str, arg: str) -> None:
        day = None
        if arg not in {"", "off"}:
            try:
                day = parse_day(arg)
            except ValueError as exc:
                self.out(f"error: :{name} {arg}: {exc}")
                return
        f = self.filters
        self.filters = (replace(f, since=day) if name == "since" else replace(f, until=day))
        if day is None:
            self.out(f"{name.capitalize()}: off.")
            return
        self.out(f"{name.capitalize()}: {day.isoformat()}.")


def run_repl(bot: Qabot, settings: Settings, stdin: TextIO | None = None) -> None:
    """Interactive on a terminal; otherwise read questions from stdin and print plain answers."""
    stdin = stdin or sys.stdin
    if not stdin.isatty():
        session = _Session(bot, settings.top_k, lambda s: print(f"{s}\n", flush=True))
        for line in stdin:
            if not session.handle(line, plain_answer):
                break
        return
    _interactive(bot, settings)


def _interactive(bot: Qabot, settings: Settings) -> None:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory, History, InMemoryHistory

    console = Console(highlight=False)
    history: History
    path = Path(settings.history_file).expanduser()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        history = FileHistory(str(path))
    except OSError as exc:
        console.print(f"[dim]history not saved ({exc.strerror}: {path})[/dim]")
        history = InMemoryHistory()
    stats = bot.stats()
    console.print(f"[bold]qabot[/bold] — {stats.documents} document(s), {stats.chunks} chunks. "
                  "Ask a question; :help for commands, Ctrl-D to quit.")
    with console.status("Loading the model…", spinner="dots"):
        bot.warm_up()
    # Plain strings (help, sources, errors) are printed as text, never parsed as rich markup.
    session = _Session(bot, settings.top_k,
                       lambda obj: console.print(Text(obj) if isinstance(obj, str) else obj),
                       rich_stories)
    prompt: PromptSession[str] = PromptSession(history=history)
    while True:
        try:
            line = prompt.prompt("qabot> ")
        except KeyboardInterrupt:
            continue  # Ctrl-C drops the line being typed
        except EOFError:
            break
        try:
            if not session.handle(line, rich_answer):
                break
        except KeyboardInterrupt:
            console.print("[dim](cancelled)[/dim]")
    console.print("Bye.")
