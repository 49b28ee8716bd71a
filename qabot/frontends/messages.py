"""The words qabot itself says, in French or English (the question's or the user's language)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qabot.records import Answer, Citation, Passage

__all__ = ["also_line", "passage_notes", "say", "scope_line", "terminal_language", "update_line",
           "user_language"]

_MESSAGES: dict[str, dict[str, str]] = {
    "no_answer": {
        "en": "Nothing in the corpus answers that.",
        "fr": "Le corpus ne contient rien qui réponde à cette question.",
    },
    "no_answer_hint": {
        "en": "Try other words, or ask about what the articles cover (:sources lists them).",
        "fr": "Essayez d’autres mots, ou demandez ce que couvrent les articles (:sources les liste).",
    },
    "help": {
        "en": ("I answer questions about {documents} news article(s) with quotes taken word for "
               "word from them, each with its source.\n\n"
               "Ask me anything in a message. In a group, mention me, reply to me, or use "
               "/ask followed by your question.\n\n"
               "A time in the question (\"last week\", \"in July 2025\") limits the "
               "articles searched; so do since:2025-07-01, until:2025-07-31 and "
               "source:\"Le Monde\" before the question, e.g. /ask since:2025-07-01 what "
               "happened in Bamako?\n\n"
               "/latest [N] lists the N newest stories, /sources lists the articles, /stats "
               "tells how big the index is, /help shows this message. Under each answer, \"More\" shows the next passages and 👍/👎 tell "
               "us whether it helped. You can also type @{username} followed by a question in "
               "any chat."),
        "fr": ("Je réponds aux questions sur {documents} article(s) de presse par des citations "
               "tirées mot pour mot des articles, chacune avec sa source.\n\n"
               "Posez votre question dans un message. Dans un groupe, mentionnez-moi, "
               "répondez-moi ou utilisez /ask suivi de la question.\n\n"
               "Une date dans la question (« la semaine dernière », « en juillet 2025 ») "
               "limite les articles consultés ; de même since:2025-07-01, until:2025-07-31 et "
               "source:\"Le Monde\" avant la question, par exemple /ask since:2025-07-01 "
               "que s’est-il passé à Bamako ?\n\n"
               "/latest [N] liste les N dernières nouvelles, /sources liste les articles, "
               "/stats donne la taille de l’index, /help affiche ce message. Sous chaque réponse, « Plus » montre les passages suivants et 👍/👎 "
               "nous disent si elle vous a aidé. Vous pouvez aussi taper @{username} suivi "
               "d’une question dans n’importe quelle discussion."),
    },
    "more": {"en": "More", "fr": "Plus"},
    "held_back": {"en": "{count} weaker passage(s) not shown: {how}.",
                  "fr": "{count} passage(s) moins pertinent(s) non affiché(s) : {how}."},
    "inline_help": {"en": "How to ask me", "fr": "Comment me poser une question"},
    "no_more": {"en": "No more passages for this question.",
                "fr": "Pas d’autre passage pour cette question."},
    "expired": {"en": "This answer has expired: ask the question again.",
                "fr": "Cette réponse a expiré : reposez la question."},
    "thanks": {"en": "Thanks for your feedback!", "fr": "Merci pour votre avis !"},
    "vote_changed": {"en": "Your vote on this answer is changed (one per answer).",
                     "fr": "Votre avis sur cette réponse est modifié (un par réponse)."},
    "rate_limited": {
        "en": "You are asking faster than I can read: wait {seconds} s and ask again.",
        "fr": "Vous posez vos questions plus vite que je ne lis : attendez {seconds} s et "
              "reposez-la.",
    },
    "too_long": {
        "en": "That question is {length} characters long; please ask in at most {limit}.",
        "fr": "Cette question fait {length} caractères ; posez-la en {limit} au plus, s’il "
              "vous plaît.",
    },
    "not_text": {
        "en": "I only read text: send me your question as a message.",
        "fr": "Je ne lis que du texte : envoyez-moi votre question par écrit.",
    },
    "not_allowed": {
        "en": "Sorry, this bot is private.",
        "fr": "Désolé, ce robot est privé.",
    },
    "admin_only": {
        "en": "Only the bot's administrators can do that.",
        "fr": "Seuls les administrateurs du robot peuvent faire cela.",
    },
    "error": {
        "en": "Sorry, something went wrong on my side. Please try again in a moment.",
        "fr": "Désolé, quelque chose s’est mal passé de mon côté. Réessayez dans un instant.",
    },
    "ask_usage": {"en": "Usage: /ask your question", "fr": "Usage : /ask votre question"},
    "sources": {"en": "Articles in the corpus ({count}), page {page}/{pages}:",
                "fr": "Articles du corpus ({count}), page {page}/{pages} :"},
    "stats": {
        "en": "{documents} article(s), {chunks} passages indexed; last update {built_at} UTC.",
        "fr": "{documents} article(s), {chunks} passages indexés ; dernière mise à jour "
              "{built_at} UTC.",
    },
    "reindexing": {"en": "Updating the index…", "fr": "Mise à jour de l’index…"},
    "reindexed": {
        "en": "Index updated in {seconds:.1f} s: {added} added, {updated} updated, {removed} "
              "removed, {skipped} skipped; now {documents} article(s), {chunks} passages.",
        "fr": "Index mis à jour en {seconds:.1f} s : {added} ajouté(s), {updated} modifié(s), "
              "{removed} retiré(s), {skipped} ignoré(s) ; {documents} article(s), {chunks} "
              "passages en tout.",
    },
    "up_to_date": {"en": "The index is already up to date.",
                   "fr": "L’index est déjà à jour."},
    "published": {"en": "published {when}", "fr": "publiés {when}"},
    "published_one": {"en": "published {when}", "fr": "publié {when}"},
    "said": {"en": " (“{text}”)", "fr": " (« {text} »)"},
    "from_source": {"en": "from “{source}”", "fr": "de « {source} »"},
    "searched": {"en": "Articles {scope}:", "fr": "Articles {scope} :"},
    "outside": {
        "en": "No article {scope} answers that; the best answer from the other articles:",
        "fr": "Aucun article {scope} ne répond à cette question ; voici la meilleure réponse "
              "parmi les autres articles :",
    },
    "outside_mark": {"en": "outside that selection", "fr": "hors de cette sélection"},
    "also": {"en": "Also reported by: {names}", "fr": "Aussi rapporté par : {names}"},
    "update": {"en": "Updates the article of {when}", "fr": "Mise à jour de l’article du {when}"},
    "latest_usage": {"en": "Usage: /latest N, with N from 1 to {most}",
                     "fr": "Usage : /latest N, avec N de 1 à {most}"},
    "latest": {"en": "Latest stories ({count}):", "fr": "Dernières nouvelles ({count}) :"},
    "no_stories": {"en": "No dated story in the corpus yet.",
                   "fr": "Aucun article daté dans le corpus pour l’instant."},
    "filters_usage": {
        "en": "Filters go before the question: since:2025-07-01 until:2025-07-31 "
              "source:\"Le Monde\"",
        "fr": "Les filtres précèdent la question : since:2025-07-01 until:2025-07-31 "
              "source:\"Le Monde\"",
    },
}


def say(key: str, lang: str, **values: object) -> str:
    """The message `key` in `lang` (English when there is no such translation)."""
    entry = _MESSAGES[key]
    text = entry.get(lang, entry["en"])
    return text.format(**values) if values else text


def user_language(code: str | None) -> str:
    """Telegram's `language_code` ("fr", "fr-CA", "en-GB"…) to the language qabot speaks."""
    return "fr" if code and code.lower().startswith("fr") else "en"


def terminal_language() -> str:
    """The language of the terminal's locale (LC_ALL, LC_MESSAGES, LANG), for what qabot says
    without a question to go by."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return user_language(value)
    return "en"


def scope_line(answer: Answer) -> str | None:
    """What the answer searched, when it was restricted: "Articles published in July 2025
    (“in July 2025”):", or, when nothing there answered, that it answers from the others."""
    if answer.window is None and not answer.source:
        return None
    lang = answer.lang
    parts = []
    if answer.window is not None:
        when = answer.window.describe(lang)
        if when:
            parts.append(say("published_one" if answer.outside_window else "published", lang,
                             when=when))
        if answer.window.text and answer.window.text.casefold() != when.casefold():
            parts.append(say("said", lang, text=answer.window.text).strip())
    if answer.source:
        parts.append(say("from_source", lang, source=answer.source))
    scope = " ".join(parts)
    return say("outside" if answer.outside_window else "searched", lang, scope=scope)


def passage_notes(answer: Answer, p: Passage) -> tuple[str, ...]:
    """The lines under a passage's citation: an update's, the story's other articles, and
    the mark of an answer from outside the window asked for."""
    notes = [update_line(p, answer.lang), also_line(p.also, answer.lang)]
    if answer.outside_window:
        notes.append(f"({say('outside_mark', answer.lang)})")
    return tuple(n for n in notes if n)


def also_line(others: tuple[Citation, ...], lang: str) -> str | None:
    """"Also reported by: RFI (2025-07-23), Le Monde (2025-07-24)"."""
    if not others:
        return None
    return say("also", lang, names=", ".join(_name(c) for c in others))


def update_line(p: Passage, lang: str) -> str | None:
    """"Updates the article of 2025-07-22 (AFP)": the quote is news a later article added."""
    if p.update_of is None:
        return None
    return say("update", lang, when=_name(p.update_of, date_first=True))


def _name(c: Citation, date_first: bool = False) -> str:
    name = c.source or c.title
    day = c.published or c.date
    if not day:
        return name
    return f"{day} ({name})" if date_first else f"{name} ({day})"
