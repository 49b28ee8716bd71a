"""Handlers and the Application: questions in chats, groups and inline mode, answered off the loop."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import partial

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from qabot.config import Settings
from qabot.engine import MAX_PASSAGES, Qabot
from qabot.errors import QabotError, QuestionError
from qabot.frontends.messages import passage_notes, say, user_language
from qabot.frontends.telegram.feedback import FeedbackStore
from qabot.frontends.telegram.format import (
    TELEGRAM_LIMIT,
    answer_messages,
    citation_html,
    passage_html,
    stories_messages,
)
from qabot.frontends.telegram.limits import Allowlist, RateLimiter
from qabot.index.write import IndexSummary
from qabot.records import Answer, Passage
from qabot.search.filters import Filters, take_filter_words

__all__ = ["TelegramFrontEnd", "build_application"]

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
SOURCES_PER_PAGE = 15
_SOURCE_LINE_MAX = 300  # a longer citation is listed in its short form
MORE_PAGES = 3  # "More" pages after the first answer
LATEST_MAX = 20  # stories /latest lists at most
_ANSWERS_KEPT = 2000  # answers whose "More" and vote buttons still work


@dataclass
class _Shown:
    """What a chat was shown for one question, for the "More" and vote buttons."""

    question: str
    lang: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)  # (doc id, start, end)
    pages: int = 0  # "More" pages sent so far
    voted: bool = False  # the vote buttons are gone from the first message
    busy: bool = False  # a "More" page is on its way
    filters: Filters = field(default_factory=Filters)  # since:, until:, source: words

    def add(self, passages: list[Passage]) -> None:
        self.spans += [(p.citation.doc_id, p.start, p.end) for p in passages]

    @property
    def passage_ids(self) -> list[str]:
        return [_span_id(*span) for span in self.spans]

    def overlaps(self, p: Passage) -> bool:
        """Whether `p` repeats text already shown (a later ranking may merge or widen)."""
        return any(doc == p.citation.doc_id and start < p.end and p.start < end
                   for doc, start, end in self.spans)


def _span_id(doc_id: str, start: int, end: int) -> str:
    return f"{doc_id}:{start}-{end}"


def _passage_id(p: Passage) -> str:
    return _span_id(p.citation.doc_id, p.start, p.end)


class TelegramFrontEnd:
    """The bot's behaviour; python-telegram-bot calls these methods as handlers."""

    def __init__(self, settings: Settings, qabot: Qabot, feedback: FeedbackStore) -> None:
        self.settings = settings
        self.qabot = qabot
        self.feedback = feedback
        self.allowlist = Allowlist(settings.telegram_allowed_chats)
        self.limiter = RateLimiter(settings.telegram_rate_limit)
        self._shown: OrderedDict[str, _Shown] = OrderedDict()
        self._reindex_lock = asyncio.Lock()

    # -- set-up --------------------------------------------------------------------------
    def register(self, app: Application) -> None:  # type: ignore[type-arg]
        app.add_handler(CommandHandler(["start", "help"], self.help))
        app.add_handler(CommandHandler("ask", self.ask_command))
        app.add_handler(CommandHandler("sources", self.sources))
        app.add_handler(CommandHandler("latest", self.latest))
        app.add_handler(CommandHandler("stats", self.stats))
        app.add_handler(CommandHandler("reindex", self.reindex))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.text))
        app.add_handler(MessageHandler(
            filters.ChatType.PRIVATE & ~filters.TEXT & ~filters.COMMAND & ~filters.StatusUpdate.ALL,
            self.not_text))
        app.add_handler(CallbackQueryHandler(self.button))
        app.add_handler(InlineQueryHandler(self.inline))
        app.add_error_handler(self.error)

    # -- gatekeeping ---------------------------------------------------------------------
    async def _admitted(self, update: Update) -> bool:
        """Allowlisted chats pass; anyone else gets one polite refusal and nothing more."""
        chat, user = update.effective_chat, update.effective_user
        if self.allowlist.allows(chat.id if chat else None, user.id if user else None):
            return True
        lang = user_language(user.language_code if user else None)
        if update.callback_query:
            await update.callback_query.answer(say("not_allowed", lang), show_alert=True)
        elif update.inline_query:
            await update.inline_query.answer([], cache_time=0, is_personal=True)
        elif chat and update.effective_message and self.allowlist.first_refusal(chat.id):
            await update.effective_message.reply_text(say("not_allowed", lang))
        return False

    # -- commands ------------------------------------------------------------------------
    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/start and /help: what the bot does, in the user's language."""
        if not await self._admitted(update) or update.effective_message is None:
            return
        lang = user_language(update.effective_user.language_code
                             if update.effective_user else None)
        stats = await asyncio.to_thread(self.qabot.stats)
        text = say("help", lang, documents=stats.documents, username=context.bot.username)
        await update.effective_message.reply_text(text)

    async def ask_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/ask question: the way to ask in a group without mentioning the bot."""
        message = update.effective_message
        if not await self._admitted(update) or message is None:
            return
        question = " ".join(context.args or [])
        if not question:
            await message.reply_text(say("ask_usage", self._lang(update)))
            return
        await self._answer(update, context, question)

    async def sources(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/sources: the corpus's articles, a page at a time."""
        if not await self._admitted(update) or update.effective_message is None:
            return
        text, markup = await asyncio.to_thread(self._sources_page, 0, self._lang(update))
        await update.effective_message.reply_html(text, reply_markup=markup,
                                                  link_preview_options=NO_PREVIEW)

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stats: index size and last update."""
        if not await self._admitted(update) or update.effective_message is None:
            return
        s = await asyncio.to_thread(self.qabot.stats)
        await update.effective_message.reply_text(
            say("stats", self._lang(update), documents=s.documents, chunks=s.chunks,
                built_at=s.built_at.replace("T", " ").removesuffix("+00:00")))

    async def reindex(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/reindex (admins only): update the index from the corpus folder and switch to it."""
        message, user = update.effective_message, update.effective_user
        if not await self._admitted(update) or message is None:
            return
        lang = self._lang(update)
        if user is None or user.id not in self.settings.telegram_admin_ids:
            await message.reply_text(say("admin_only", lang))
            return
        async with self._reindex_lock:
            await message.reply_text(say("reindexing", lang))
            summary = await asyncio.to_thread(self._reindex)
        if summary.up_to_date:
            await message.reply_text(say("up_to_date", lang))
        else:
            await message.reply_text(say(
                "reindexed", lang, added=summary.added, updated=summary.updated,
                removed=summary.removed, documents=summary.documents, chunks=summary.chunks,
                skipped=len(summary.warnings), seconds=summary.seconds))

    def _reindex(self) -> IndexSummary:
        from qabot.index.write import build_index

        summary = build_index(self.settings, embedder=self.qabot.embedder)
        self.qabot.refresh()  # questions in flight finish on the old index
        return summary

    # -- questions -----------------------------------------------------------------------
    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Plain text: a question in a private chat; in groups only when addressed to the bot."""
        message = update.effective_message
        if message is None or not message.text:
            return
        question = self._addressed(message, context)
        if question is None:
            return
        if not await self._admitted(update):
            return
        await self._answer(update, context, question)

    def _addressed(self, message: Message, context: ContextTypes.DEFAULT_TYPE) -> str | None:
        """The question in a message, or None when the message is not for the bot."""
        text = message.text or ""
        if message.chat.type == ChatType.PRIVATE:
            return text
        mention = f"@{context.bot.username}"
        if context.bot.username and mention.lower() in text.lower():
            return re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE).strip() or None
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None \
                and replied.from_user.id == context.bot.id:
            return text
        return None

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice…: a one-line hint."""
        if await self._admitted(update) and update.effective_message is not None:
            await update.effective_message.reply_text(say("not_text", self._lang(update)))

    async def _answer(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                      question: str) -> None:
        message, user = update.effective_message, update.effective_user
        assert message is not None
        lang = self._lang(update)
        question = " ".join(question.split())
        limit = self.settings.telegram_max_question_chars
        if len(question) > limit:
            await message.reply_text(say("too_long", lang, length=len(question), limit=limit))
            return
        wait = self.limiter.wait(user.id if user else message.chat.id)
        if wait:
            await message.reply_text(say("rate_limited", lang, seconds=math.ceil(wait)))
            return
        try:
            filters, question = take_filter_words(question)
        except QuestionError as exc:
            await message.reply_text(f"{exc}. {say('filters_usage', lang)}")
            return
        if not question:
            await message.reply_text(say("ask_usage", lang))
            return
        await context.bot.send_chat_action(message.chat.id, ChatAction.TYPING)
        try:
            answer = await asyncio.to_thread(partial(self.qabot.ask, question, filters=filters))
        except QuestionError as exc:  # the user's to fix (since: after until:): say how
            await message.reply_text(str(exc))
            return
        await self._send(message, answer, answer.passages, filters=filters)

    async def latest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/latest [N]: the N newest stories, each once."""
        message = update.effective_message
        if not await self._admitted(update) or message is None:
            return
        lang = self._lang(update)
        arg = (context.args or ["5"])[0]
        if not arg.isdigit() or not 1 <= int(arg) <= LATEST_MAX:
            await message.reply_text(say("latest_usage", lang, most=LATEST_MAX))
            return
        stories = await asyncio.to_thread(self.qabot.latest, int(arg))
        for text in stories_messages(stories, lang):
            await message.reply_html(text, link_preview_options=NO_PREVIEW)

    async def _send(self, message: Message, answer: Answer, passages: list[Passage],
                    page_of: tuple[str, _Shown] | None = None,
                    filters: Filters | None = None) -> None:
        """Reply with the passages: a new answer, or the next page of `page_of`. Under the
        last message go "More" (while pages are left) and, on the first page only, the votes."""
        markup = None
        if answer.answered and passages:
            if page_of is None:
                shown = _Shown(answer.question, answer.lang, filters=filters or Filters())
                answer_id = self._remember(shown)
            else:
                answer_id, shown = page_of
            shown.add(passages)
            markup = self._buttons(answer_id, answer.lang, more=shown.pages < MORE_PAGES,
                                   votes=page_of is None)
        texts = answer_messages(answer, passages, header=page_of is None)
        quote = message.chat.type != ChatType.PRIVATE
        for i, text in enumerate(texts):
            await message.reply_html(text, reply_markup=markup if i == len(texts) - 1 else None,
                                     link_preview_options=NO_PREVIEW, do_quote=quote and i == 0)

    def _remember(self, shown: _Shown) -> str:
        # Random, not a counter: votes are stored by it, and a restarted bot counts again.
        answer_id = secrets.token_urlsafe(9)
        self._shown[answer_id] = shown
        while len(self._shown) > _ANSWERS_KEPT:
            self._shown.popitem(last=False)
        return answer_id

    @staticmethod
    def _buttons(answer_id: str, lang: str, *, more: bool,
                 votes: bool) -> InlineKeyboardMarkup | None:
        row = []
        if more:
            row.append(InlineKeyboardButton(say("more", lang), callback_data=f"m:{answer_id}"))
        if votes:
            row += [InlineKeyboardButton("👍", callback_data=f"v:{answer_id}:1"),
                    InlineKeyboardButton("👎", callback_data=f"v:{answer_id}:-1")]
        return InlineKeyboardMarkup([row]) if row else None

    # -- buttons -------------------------------------------------------------------------
    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """More, 👍/👎 and source pages."""
        query = update.callback_query
        if query is None or not await self._admitted(update):
            return
        lang = user_language(query.from_user.language_code)
        kind, _, rest = (query.data or "").partition(":")
        if kind == "s":
            page = int(rest) if rest.isdigit() else 0
            text, markup = await asyncio.to_thread(self._sources_page, page, lang)
            await query.answer()
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                          link_preview_options=NO_PREVIEW)
            return
        answer_id, _, vote = rest.partition(":")
        shown = self._shown.get(answer_id)
        if shown is None:
            await query.answer(say("expired", lang), show_alert=True)
            return
        if kind == "v" and vote in {"1", "-1"}:
            chat_id = query.message.chat.id if query.message else 0
            first = await asyncio.to_thread(
                self.feedback.record, answer_key=answer_id, chat_id=chat_id,
                user_id=query.from_user.id, question=shown.question,
                answer_ids=shown.passage_ids, vote=int(vote))
            await query.answer(say("thanks" if first else "vote_changed", lang))
            private = query.message is not None and query.message.chat.type == ChatType.PRIVATE
            # In a group every member has a vote: the buttons stay for the others.
            if private and not shown.voted:
                shown.voted = True
                # The first message keeps "More" only while no page was asked for yet.
                await query.edit_message_reply_markup(self._buttons(
                    answer_id, shown.lang, more=shown.pages == 0, votes=False))
        elif kind == "m":
            await self._more(query, answer_id, shown, lang)
        else:
            await query.answer()

    async def _more(self, query: CallbackQuery, answer_id: str, shown: _Shown,
                    lang: str) -> None:
        """The next page of one answer: counted against the rate limit, at most MORE_PAGES."""
        if shown.busy:  # a second click, by anyone, while the page is on its way
            await query.answer()
            return
        if (shown.pages >= MORE_PAGES or len(shown.spans) >= MAX_PASSAGES
                or not isinstance(query.message, Message)):
            await query.answer(say("no_more", lang))
            return
        wait = self.limiter.wait(query.from_user.id)
        if wait:
            await query.answer(say("rate_limited", lang, seconds=math.ceil(wait)),
                               show_alert=True)
            return
        shown.busy = True  # until the page is sent: clicks meanwhile would repeat it
        try:
            # Ranked again, deeper: what was shown may rank elsewhere now, or be merged into
            # a wider passage, so the page is what the top holds beyond what was shown.
            depth = min(MAX_PASSAGES, len(shown.spans) + self.settings.top_k)
            answer = await asyncio.to_thread(partial(self.qabot.ask, shown.question, depth,
                                                     filters=shown.filters))
            fresh = [p for p in answer.passages if not shown.overlaps(p)]
            fresh = fresh[:self.settings.top_k]
            if not fresh:
                await query.answer(say("no_more", lang))
                return
            shown.pages += 1
            await query.answer()
            # "More" moves to the new page; the votes stay on the first message.
            await query.edit_message_reply_markup(self._buttons(
                answer_id, shown.lang, more=False, votes=shown.pages == 1 and not shown.voted))
            await self._send(query.message, answer, fresh, page_of=(answer_id, shown))
        finally:
            shown.busy = False

    # -- sources -------------------------------------------------------------------------
    def _sources_page(self, page: int, lang: str) -> tuple[str, InlineKeyboardMarkup | None]:
        citations = self.qabot.sources()
        pages = max(1, math.ceil(len(citations) / SOURCES_PER_PAGE))
        page = min(max(page, 0), pages - 1)
        chunk = citations[page * SOURCES_PER_PAGE:(page + 1) * SOURCES_PER_PAGE]
        lines = [say("sources", lang, count=len(citations), page=page + 1, pages=pages)]
        for c in chunk:
            line = f"• {citation_html(c)}"
            if len(line) > _SOURCE_LINE_MAX:
                line = f"• {citation_html(c, short=True)}"
            if sum(len(x) + 1 for x in lines) + len(line) > TELEGRAM_LIMIT:
                break  # only absurdly long titles get here: the page shows fewer
            lines.append(line)
        nav = []
        if page > 0:
            nav.append(InlineKeyboardButton("◀", callback_data=f"s:{page - 1}"))
        if page + 1 < pages:
            nav.append(InlineKeyboardButton("▶", callback_data=f"s:{page + 1}"))
        return "\n".join(lines), InlineKeyboardMarkup([nav]) if nav else None

    # -- inline mode ---------------------------------------------------------------------
    async def inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """@bot question in any chat: the top passages, each ready to send with its citation."""
        query = update.inline_query
        if query is None or not await self._admitted(update):
            return
        question = " ".join(query.query.split())
        lang = user_language(query.from_user.language_code)
        help_button = InlineQueryResultsButton(text=say("inline_help", lang),
                                               start_parameter="help")
        if len(question) < 3 or len(question) > self.settings.telegram_max_question_chars:
            await query.answer([], cache_time=5, is_personal=True, button=help_button)
            return
        if self.limiter.wait(query.from_user.id):
            await query.answer([], cache_time=0, is_personal=True)
            return
        try:
            filters, question = take_filter_words(question)
        except QuestionError:
            await query.answer([], cache_time=0, is_personal=True, button=help_button)
            return
        if not question:
            await query.answer([], cache_time=5, is_personal=True, button=help_button)
            return
        try:
            answer = await asyncio.to_thread(partial(self.qabot.ask, question,
                                                     max(5, self.settings.top_k),
                                                     filters=filters))
        except QuestionError:
            await query.answer([], cache_time=0, is_personal=True, button=help_button)
            return
        results = [
            InlineQueryResultArticle(
                id=hashlib.sha1(_passage_id(p).encode()).hexdigest()[:32],
                title=p.citation.title[:120],
                description=" ".join(p.highlight.split()[:24])[:200],
                input_message_content=InputTextMessageContent(
                    passage_html(p, notes=passage_notes(answer, p)), parse_mode=ParseMode.HTML,
                    link_preview_options=NO_PREVIEW),
            )
            for i, p in enumerate(answer.passages)
        ]
        button = None if results else InlineQueryResultsButton(
            text=say("no_answer", answer.lang)[:64], start_parameter="help")
        # Telegram caches inline results for everyone who types the same query, unless they
        # are personal: behind an allowlist they must be.
        await query.answer(results, cache_time=30, is_personal=self.allowlist.restricted,
                           button=button)

    # -- errors --------------------------------------------------------------------------
    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log with the update id, apologize, keep running."""
        update_id = update.update_id if isinstance(update, Update) else None
        err = context.error
        if isinstance(err, QabotError):
            log.warning("update %s: %s", update_id, err)
        else:
            log.error("update %s failed", update_id, exc_info=err)
        if isinstance(update, Update) and update.effective_message is not None:
            try:
                await update.effective_message.reply_text(say("error", self._lang(update)))
            except Exception:  # the apology itself failed (network): the log has it all
                log.debug("could not apologize for update %s", update_id, exc_info=True)

    @staticmethod
    def _lang(update: Update) -> str:
        user = update.effective_user
        return user_language(user.language_code if user else None)


def build_application(settings: Settings, qabot: Qabot,
                      feedback: FeedbackStore) -> Application:  # type: ignore[type-arg]
    """The Application, its handlers registered; `settings.telegram_token` must be set."""
    assert settings.telegram_token is not None
    base = settings.telegram_api_url
    app = (
        Application.builder()
        .token(settings.telegram_token.get_secret_value().strip())
        .base_url(base)
        .base_file_url(base.removesuffix("/bot") + "/file/bot" if base.endswith("/bot") else base)
        .concurrent_updates(64)  # a slow question in one chat never holds up the others
        .build()
    )
    front = TelegramFrontEnd(settings, qabot, feedback)
    front.register(app)
    app.bot_data["front"] = front
    return app
