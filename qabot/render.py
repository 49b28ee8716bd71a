"""Rendering answers for a terminal: rich text with the best sentence highlighted, or plain text."""

from __future__ import annotations

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from qabot.messages import say
from qabot.records import Answer, Citation, Passage

__all__ = ["citation_line", "plain_answer", "rich_answer"]


def citation_line(c: Citation) -> str:
    """'Title — 2025-07-22 — Source — https://…' (the file path when there is no URL)."""
    parts = [c.title]
    parts += [p for p in (c.date, c.source) if p]
    parts.append(c.url or c.path)
    return " — ".join(parts)


def plain_answer(answer: Answer) -> str:
    """Plain text, for pipes and scripts."""
    if not answer.answered:
        return say("no_answer", answer.lang)
    blocks = []
    for i, p in enumerate(answer.passages, start=1):
        blocks.append(f"[{i}] {p.quote}\n    — {citation_line(p.citation)} (score {p.score:.2f})")
    return "\n\n".join(blocks)


def rich_answer(answer: Answer) -> Group:
    """For a terminal: numbered quotes, best sentence in bold, citation dimmed beneath."""
    if not answer.answered:
        return Group(Text(say("no_answer", answer.lang), style="yellow"),
                     Text(say("no_answer_hint", answer.lang), style="dim"))
    items = []
    for i, p in enumerate(answer.passages, start=1):
        items.append(Padding(_quote(i, p), (0, 0, 1, 0)))
    return Group(*items)


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
