"""The words qabot itself says, in the question's language (French or English)."""

from __future__ import annotations

__all__ = ["say"]

_MESSAGES: dict[str, dict[str, str]] = {
    "no_answer": {
        "en": "Nothing in the corpus answers that.",
        "fr": "Le corpus ne contient rien qui réponde à cette question.",
    },
    "no_answer_hint": {
        "en": "Try other words, or ask about what the articles cover (:sources lists them).",
        "fr": "Essayez d’autres mots, ou demandez ce que couvrent les articles (:sources les liste).",
    },
}


def say(key: str, lang: str) -> str:
    """The message `key` in `lang`, falling back to English."""
    entry = _MESSAGES[key]
    return entry.get(lang, entry["en"])
