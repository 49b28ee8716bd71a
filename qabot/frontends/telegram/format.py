"""Answers as Telegram HTML: escaped quotes, the best sentence in bold, split under 4096 chars."""

from __future__ import annotations

from html import escape

from qabot.frontends.messages import also_line, passage_notes, say, scope_line
from qabot.records import Answer, Citation, Passage, Story

__all__ = ["TELEGRAM_LIMIT", "answer_messages", "citation_html", "passage_html", "split_blocks",
           "stories_messages"]

TELEGRAM_LIMIT = 4096
# Caps on what a citation may show: a corpus file can hold a title, source or URL of any
# length, and the quote must keep the room of a message.
_TITLE_MAX, _FIELD_MAX, _URL_MAX = 300, 120, 1000
_SHORT_TITLE, _SHORT_FIELD = 80, 60
_NOTE_MAX = 400  # "also reported by" and the like, under a citation


def citation_html(c: Citation, short: bool = False) -> str:
    """Title (a link when the article has a short enough URL), date, source; the file when
    there is no URL. Escaped, it stays under 9,300 characters, and under 1,300 when `short`
    (escaping can multiply a character by six)."""
    title = escape(_clip(c.title, _SHORT_TITLE if short else _TITLE_MAX))
    url = c.url if c.url and c.url.startswith(("http://", "https://")) else None
    if url and len(url) <= _URL_MAX and not short:
        title = f'<a href="{escape(url, quote=True)}">{title}</a>'
    field = _SHORT_FIELD if short else _FIELD_MAX
    parts = [title] + [escape(_clip(x, field)) for x in (c.date, c.source) if x]
    if not c.url and not short:
        parts.append(f"<i>{escape(_clip(c.path, _FIELD_MAX))}</i>")
    return ", ".join(parts)


def passage_html(p: Passage, limit: int = TELEGRAM_LIMIT, notes: tuple[str, ...] = ()) -> str:
    """One quote in a blockquote, its best sentence bold, its citation under it, then `notes`
    in italics; never longer than `limit`. Whatever must go is cut from the quote's edges,
    the bold sentence last."""
    extra = "".join(f"\n<i>{_escaped_note(n)}</i>" for n in notes)
    cite = f"\n— {citation_html(p.citation)}{extra}"
    if len(cite) > limit // 3:
        cite = f"\n— {citation_html(p.citation, short=True)}{extra}"
    room = limit - len(cite) - len("<blockquote><b></b></blockquote>")
    at, end = p.highlight_at, p.highlight_at + len(p.highlight)
    highlight, room = _escaped_within(p.quote[at:end], room, keep="start")
    # What is left goes to the text on either side of it, half each unless one needs less.
    after_text = p.quote[end:]
    before, _ = _escaped_within(p.quote[:at], room - min(len(escape(after_text)), room // 2),
                                keep="end")
    after, _ = _escaped_within(after_text, room - len(before), keep="start")
    return f"<blockquote>{before}<b>{highlight}</b>{after}</blockquote>{cite}"


def _escaped_within(text: str, room: int, keep: str) -> tuple[str, int]:
    """`text` escaped, cut (with an ellipsis) so that it takes at most `room` characters,
    keeping its start or its end; and the room left. One pass over the text."""
    whole = escape(text)
    if len(whole) <= room:
        return whole, room - len(whole)
    if room < 2:
        return "", room
    kept: list[str] = []
    used = 1  # the ellipsis
    for ch in (text if keep == "start" else reversed(text)):
        piece = escape(ch)
        if used + len(piece) > room:
            break
        kept.append(piece)
        used += len(piece)
    cut = "".join(kept) if keep == "start" else "".join(reversed(kept))
    return (cut + "…" if keep == "start" else "…" + cut), room - used


def answer_messages(answer: Answer, passages: list[Passage] | None = None,
                    header: bool = True) -> list[str]:
    """The answer as one or more messages, split between passages, never inside a tag; with
    `header`, what it searched first, when the question or filters restricted it."""
    shown = answer.passages if passages is None else passages
    scope = scope_line(answer) if header else None
    head = [f"<i>{_escaped_note(scope)}</i>"] if scope else []
    if not answer.answered or not shown:
        return ["\n\n".join([*head, escape(say("no_answer", answer.lang))])]
    return split_blocks(head + [passage_html(p, notes=passage_notes(answer, p)) for p in shown])


def stories_messages(stories: list[Story], lang: str) -> list[str]:
    """/latest: each story's citation, first sentence and other articles."""
    if not stories:
        return [escape(say("no_stories", lang))]
    blocks = [escape(say("latest", lang, count=len(stories)))]
    for story in stories:
        lines = [f"• {citation_html(story.citation, short=True)}",
                 _escaped_note(story.first_sentence)]
        also = also_line(story.also, lang)
        if also:
            lines.append(f"<i>{_escaped_note(also)}</i>")
        blocks.append("\n".join(lines))
    return split_blocks(blocks)


def split_blocks(blocks: list[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Pack whole blocks (each at most `limit` long) into as few messages as fit."""
    messages: list[str] = []
    current = ""
    for block in blocks:
        joined = f"{current}\n\n{block}" if current else block
        if len(joined) <= limit:
            current = joined
        else:
            messages.append(current)
            current = block
    if current:
        messages.append(current)
    return messages


def _escaped_note(text: str) -> str:
    """A note escaped, then cut to `_NOTE_MAX` (escaping can make a character six)."""
    return _escaped_within(text, _NOTE_MAX, keep="start")[0]


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: max(0, length - 1)] + "…"
