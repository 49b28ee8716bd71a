"""Rendering answers for a terminal: rich text with the best sentence highlighted, or plain text."""

from __future__ import annotations

from rich.console import Group
from rich.padding import Padding
from rich.text import Text

from qabot.frontends.messages import also_line, passage_notes, say, scope_line
from qabot.records import Answer, Citation, Passage, Story

__all__ = ["answer_output", "citation_line", "held_back_note", "plain_answer", "plain_stories",
           "rich_answer", "rich_stories"]


def citation_line(c: Citation) -> str:
    """'Title — 2025-07-22 — Source — https://…' (the file path when there is no URL)."""
    parts = [c.title]
    parts += [p for p in (c.date, c.source) if p]
    parts.append(c.url or c.path)
    return " — ".join(parts)


def answer_output(answer: Answer, fmt: str, more: str, width: int = 80) -> str:
    """What `qabot ask` prints: "json" (one object), "rich" (a terminal's colours, `width`
    wide) or "plain", with its final newline."""
    if fmt == "json":
        import json

        return json.dumps(answer.to_json(), ensure_ascii=False) + "\n"
    if fmt == "rich":
        import io

        from rich.console import Console

        buffer = io.StringIO()
        Console(file=buffer, force_terminal=True, width=width, highlight=False).print(
            rich_answer(answer, more))
        return buffer.getvalue()
    return plain_answer(answer, more) + "\n"


def plain_answer(answer: Answer, more: str = "", start: int = 1) -> str:
    """Plain text, for pipes and scripts. `more` says how to see held-back passages; `start`
    numbers the first passage (for the ones shown on request)."""
    scope = scope_line(answer)
    if not answer.answered:
        return "\n".join(x for x in (scope, say("no_answer", answer.lang)) if x)
    blocks = [scope] if scope and start == 1 else []
    for i, p in enumerate(answer.passages, start=start):
        lines = [f"[{i}] {p.quote}",
                 f"    — {citation_line(p.citation)} (score {p.score:.2f})"]
        lines += [f"    {x}" for x in passage_notes(answer, p)]
        blocks.append("\n".join(lines))
    if answer.held_back and more:
        blocks.append(held_back_note(answer, more))
    return "\n\n".join(blocks)


def rich_answer(answer: Answer, more: str = "", start: int = 1) -> Group:
    """For a terminal: numbered quotes, best sentence in bold, citation dimmed beneath."""
    scope = scope_line(answer)
    head = [Text(scope, style="yellow" if answer.outside_window else "cyan")] if scope else []
    if not answer.answered:
        return Group(*head, Text(say("no_answer", answer.lang), style="yellow"),
                     Text(say("no_answer_hint", answer.lang), style="dim"))
    items: list[Padding | Text] = [Padding(h, (0, 0, 1, 0)) for h in head] if start == 1 else []
    for i, p in enumerate(answer.passages, start=start):
        items.append(Padding(_quote(i, p, passage_notes(answer, p)), (0, 0, 1, 0)))
    if answer.held_back and more:
        items.append(Text(held_back_note(answer, more), style="dim"))
    return Group(*items)


def held_back_note(answer: Answer, how: str) -> str:
    """'2 weaker passage(s) not shown: -k 3.'"""
    return say("held_back", answer.lang, count=answer.held_back, how=how)


def plain_stories(stories: list[Story], lang: str) -> str:
    """The digest: newest story first, its first sentence, its other articles."""
    if not stories:
        return say("no_stories", lang)
    blocks = [say("latest", lang, count=len(stories))]
    for i, story in enumerate(stories, start=1):
        lines = [f"[{i}] {citation_line(story.citation)}", f"    {story.first_sentence}"]
        also = also_line(story.also, lang)
        if also:
            lines.append(f"    {also}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def rich_stories(stories: list[Story], lang: str) -> Group:
    if not stories:
        return Group(Text(say("no_stories", lang), style="yellow"))
    items: list[Padding | Text] = [Text(say("latest", lang, count=len(stories)), style="cyan")]
    for i, story in enumerate(stories, start=1):
        text = Text()
        text.append(f"{i}. ", style="bold cyan")
        text.append(story.citation.title, style="bold")
        meta = " — ".join(x for x in (story.citation.date, story.citation.source,
                                      story.citation.url or story.citation.path) if x)
        lines: list[Text] = [text, Text(f"   {meta}", style="dim"),
                             Text(f"   {story.first_sentence}")]
        also = also_line(story.also, lang)
        if also:
            lines.append(Text(f"   {also}", style="dim"))
        items.append(Padding(Group(*lines), (0, 0, 1, 0)))
    return Group(*items)


def _quote(number: int, p: Passage, notes: tuple[str, ...]) -> Group:
    text = Text()
    text.append(f"{number}. ", style="bold cyan")
    before = p.quote[: p.highlight_at]
    after = p.quote[p.highlight_at + len(p.highlight):]
    text.append(before)
    text.append(p.highlight, style="bold yellow")
    text.append(after)
    cite = Text(f"   — {citation_line(p.citation)}", style="dim")
    cite.append(f"  ({p.score:.2f})", style="dim italic")
    return Group(text, cite, *(Text(f"   {n}", style="dim") for n in notes))
