"""Rendering answers for a terminal: rich text with the best sentence highlighted, or plain text."""

from __future__ import annotations

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from qabot.frontends.messages import say
from qabot.records import Answer, Citation, Passage

__all__ = ["citation_line", "held_back_note", "plain_answer", "rich_answer"]


def citation_line(c: Citation) -> str:
    """'Title — 2025-07-22 — Source — https://…' (the file path when there is no URL)."""
    parts = [c.title]
    parts += [p for p in (c.date, c.source) if p]
    parts.append(c.url or c.path)
    return " — ".join(parts)


def plain_answer(answer: Answer, more: str = "", start: int = 1) -> str:
    """Plain text, for pipes and scripts. `more` says how to see held-back passages; `start`
    numbers the first passage (for the ones shown on request)."""
    if not answer.answered:
        return say("no_answer", answer.lang)
    blocks = []
    for i, p in enumerate(answer.passages, start=start):
        blocks.append(f"[{i}] {p.quote}\n    — {citation_line(p.citation)} (score {p.score:.2f})")
    if answer.held_back and more:
        blocks.append(held_back_note(answer, more))
    return "\n\n".join(blocks)


def rich_answer(answer: Answer, more: str = "", start: int = 1) -> Group:
    """For a terminal: numbered quotes, best sentence in bold, citation dimmed beneath."""
    if not answer.answered:
        return Group(Text(say("no_answer", answer.lang), style="yellow"),
                     Text(say("no_answer_hint", answer.lang), style="dim"))
    items: list[Padding | Text] = []
    for i, p in enumerate(answer.passages, start=start):
        items.append(Padding(_quote(i, p), (0, 0, 1, 0)))
    if answer.held_back and more:
        items.append(Text(held_back_note(answer, more), style="dim"))
    return Group(*items)


def held_back_note(answer: Answer, how: str) -> str:
    """'2 weaker passage(s) not shown: -k 3.'"""
    return say("held_back", answer.lang, count=answer.held_back, how=how)


def _quote(number: int, p: Passage) -> Group:
    text = Text()
    text.append(f"{number}. ", style="bold cyan")
    before = p.quote[: p.highlight_at]
    after = p.quote[p.highlight_at + len(p.highlight):]
    text.append(before)
    text.append(p.highlight, style="bold yellow")
    text.append(after)
    cite = Text(f"   — {citation_line(p.citation)}", style="dim")
    cite.append(f"  ({p.score:.2f})", style="dim italic")
    return Group(text, cite)
