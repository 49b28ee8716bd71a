"""Answers as Telegram HTML: escaped quotes, the best sentence in bold, split under 4096 chars."""

from __future__ import annotations

from html import escape

from qabot.frontends.messages import say
from qabot.records import Answer, Citation, Passage

__all__ = ["TELEGRAM_LIMIT", "answer_messages", "citation_html", "passage_html", "split_blocks"]

TELEGRAM_LIMIT = 4096
_TITLE_MAX = 300


def citation_html(c: Citation) -> str:
    """Title (a link when the article has a URL), date, source; the file when there is no URL."""
    title = escape(_clip(c.title, _TITLE_MAX))
    if c.url and c.url.startswith(("http://", "https://")):
        title = f'<a href="{escape(c.url, quote=True)}">{title}</a>'
    parts = [title] + [escape(x) for x in (c.date, c.source) if x]
    if not c.url:
        parts.append(f"<i>{escape(c.path)}</i>")
    return ", ".join(parts)


def passage_html(p: Passage, limit: int = TELEGRAM_LIMIT) -> str:
    """One quote in a blockquote, its best sentence bold, its citation under it."""
    quote, at, highlight = p.quote, p.highlight_at, p.highlight
    cite = f"\n— {citation_html(p.citation)}"
    while True:
        before, after = quote[:at], quote[at + len(highlight):]
        html = (f"<blockquote>{escape(before)}<b>{escape(highlight)}</b>{escape(after)}"
                f"</blockquote>{cite}")
        if len(html) <= limit:
            return html
        # Only with a very long quote setting: shorten the plain text, then escape again.
        quote = _clip(quote, len(quote) - (len(html) - limit) - 1)
        highlight = quote[at:at + len(highlight)].removesuffix("…")


def answer_messages(answer: Answer, passages: list[Passage] | None = None) -> list[str]:
    """The answer as one or more messages, split between passages, never inside a tag."""
    shown = answer.passages if passages is None else passages
    if not answer.answered or not shown:
        return [escape(say("no_answer", answer.lang))]
    return split_blocks([passage_html(p) for p in shown])


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


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: max(0, length - 1)] + "…"
