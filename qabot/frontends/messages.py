"""The words qabot itself says, in French or English (the question's or the user's language)."""

from __future__ import annotations

__all__ = ["say", "user_language"]

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
               "/sources lists the articles, /stats tells how big the index is, /help shows "
               "this message. Under each answer, \"More\" shows the next passages and 👍/👎 tell "
               "us whether it helped. You can also type @{username} followed by a question in "
               "any chat."),
        "fr": ("Je réponds aux questions sur {documents} article(s) de presse par des citations "
               "tirées mot pour mot des articles, chacune avec sa source.\n\n"
               "Posez votre question dans un message. Dans un groupe, mentionnez-moi, "
               "répondez-moi ou utilisez /ask suivi de la question.\n\n"
               "/sources liste les articles, /stats donne la taille de l’index, /help affiche "
               "ce message. Sous chaque réponse, « Plus » montre les passages suivants et 👍/👎 "
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
}


def say(key: str, lang: str, **values: object) -> str:
    """The message `key` in `lang` (English when there is no such translation)."""
    entry = _MESSAGES[key]
    text = entry.get(lang, entry["en"])
    return text.format(**values) if values else text


def user_language(code: str | None) -> str:
    """Telegram's `language_code` ("fr", "fr-CA", "en-GB"…) to the language qabot speaks."""
    return "fr" if code and code.lower().startswith("fr") else "en"
