"""Time windows named in questions, and dates of articles: exact days against fixed todays."""

from __future__ import annotations

from datetime import date as D

import pytest

from qabot import timeframe
from qabot.timeframe import TimedQuestion, Window, find_window, parse_day, published_day

WED = D(2025, 7, 30)  # a Wednesday
MON = D(2025, 7, 28)
SUN = D(2025, 8, 3)
NEW_YEAR = D(2024, 1, 1)  # a Monday
LEAP = D(2024, 3, 1)  # a Friday, the day after 29 February

# (question, today, since, until)
WINDOWS: list[tuple[str, D, D | None, D | None]] = [
    # French: days
    ("aujourd'hui", WED, D(2025, 7, 30), D(2025, 7, 30)),
    ("Qu’a-t-il dit aujourd’hui ?", WED, D(2025, 7, 30), D(2025, 7, 30)),
    ("hier", WED, D(2025, 7, 29), D(2025, 7, 29)),
    ("hier", NEW_YEAR, D(2023, 12, 31), D(2023, 12, 31)),
    ("hier", LEAP, D(2024, 2, 29), D(2024, 2, 29)),
    ("avant-hier", WED, D(2025, 7, 28), D(2025, 7, 28)),
    ("avant-hier", NEW_YEAR, D(2023, 12, 30), D(2023, 12, 30)),
    # French: weeks, months, years
    ("cette semaine", WED, D(2025, 7, 28), D(2025, 7, 30)),
    ("cette semaine", MON, D(2025, 7, 28), D(2025, 7, 28)),
    ("cette semaine", SUN, D(2025, 7, 28), D(2025, 8, 3)),
    ("la semaine dernière", WED, D(2025, 7, 21), D(2025, 7, 27)),
    ("la semaine dernière", MON, D(2025, 7, 21), D(2025, 7, 27)),
    ("La Semaine Dernière", SUN, D(2025, 7, 21), D(2025, 7, 27)),
    ("la semaine passée", WED, D(2025, 7, 21), D(2025, 7, 27)),
    ("la semaine précédente", NEW_YEAR, D(2023, 12, 25), D(2023, 12, 31)),
    ("ce mois-ci", WED, D(2025, 7, 1), D(2025, 7, 30)),
    ("ce mois", NEW_YEAR, D(2024, 1, 1), D(2024, 1, 1)),
    ("le mois dernier", WED, D(2025, 6, 1), D(2025, 6, 30)),
    ("le mois dernier", NEW_YEAR, D(2023, 12, 1), D(2023, 12, 31)),
    ("le mois dernier", LEAP, D(2024, 2, 1), D(2024, 2, 29)),
    ("le mois passé", WED, D(2025, 6, 1), D(2025, 6, 30)),
    ("cette année", WED, D(2025, 1, 1), D(2025, 7, 30)),
    ("l'année dernière", WED, D(2024, 1, 1), D(2024, 12, 31)),
    ("l'an dernier", NEW_YEAR, D(2023, 1, 1), D(2023, 12, 31)),
    ("l'année passée", WED, D(2024, 1, 1), D(2024, 12, 31)),
    ("l'an passé", WED, D(2024, 1, 1), D(2024, 12, 31)),
    # French: counted back
    ("il y a 3 jours", WED, D(2025, 7, 27), D(2025, 7, 27)),
    ("il y a deux semaines", WED, D(2025, 7, 14), D(2025, 7, 20)),
    ("il y a une semaine", MON, D(2025, 7, 21), D(2025, 7, 27)),
    ("il y a 2 mois", WED, D(2025, 5, 1), D(2025, 5, 31)),
    ("il y a un mois", NEW_YEAR, D(2023, 12, 1), D(2023, 12, 31)),
    ("il y a un an", WED, D(2024, 1, 1), D(2024, 12, 31)),
    ("il y a dix ans", WED, D(2015, 1, 1), D(2015, 12, 31)),
    ("les 7 derniers jours", WED, D(2025, 7, 24), D(2025, 7, 30)),
    ("ces deux dernières semaines", WED, D(2025, 7, 17), D(2025, 7, 30)),
    ("les 3 derniers mois", WED, D(2025, 5, 1), D(2025, 7, 30)),
    ("au cours des trois derniers mois", MON, D(2025, 4, 29), D(2025, 7, 28)),
    ("depuis 10 jours", WED, D(2025, 7, 21), D(2025, 7, 30)),
    ("depuis une semaine", WED, D(2025, 7, 24), D(2025, 7, 30)),
    ("depuis 2 mois", WED, D(2025, 5, 31), D(2025, 7, 30)),
    ("lundi dernier", WED, D(2025, 7, 28), D(2025, 7, 28)),
    ("lundi dernier", MON, D(2025, 7, 21), D(2025, 7, 21)),
    ("mercredi dernier", WED, D(2025, 7, 23), D(2025, 7, 23)),
    ("dimanche dernier", SUN, D(2025, 7, 27), D(2025, 7, 27)),
    # French: named months and years
    ("en juillet 2025", WED, D(2025, 7, 1), D(2025, 7, 31)),
    ("en août", WED, D(2024, 8, 1), D(2024, 8, 31)),
    ("en juillet", WED, D(2025, 7, 1), D(2025, 7, 31)),
    ("en mars", NEW_YEAR, D(2023, 3, 1), D(2023, 3, 31)),
    ("au mois d'août 2024", WED, D(2024, 8, 1), D(2024, 8, 31)),
    ("au mois de juillet", WED, D(2025, 7, 1), D(2025, 7, 31)),
    ("courant juillet", WED, D(2025, 7, 1), D(2025, 7, 31)),
    ("juillet dernier", WED, D(2024, 7, 1), D(2024, 7, 31)),
    ("en juin dernier", WED, D(2025, 6, 1), D(2025, 6, 30)),
    ("en 2024", WED, D(2024, 1, 1), D(2024, 12, 31)),
    # French: days of the month
    ("le 22 juillet 2025", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("le 22 juillet", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("le 31 juillet", WED, D(2024, 7, 31), D(2024, 7, 31)),
    ("le 1er mars", WED, D(2025, 3, 1), D(2025, 3, 1)),
    ("le premier mars", WED, D(2025, 3, 1), D(2025, 3, 1)),
    ("le 29 février", WED, D(2024, 2, 29), D(2024, 2, 29)),
    ("le mardi 22 juillet 2025", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("mardi 22 juillet", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("le 22/07/2025", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("le 2025-07-22", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("le 14 juillet dernier", WED, D(2025, 7, 14), D(2025, 7, 14)),
    # French: open-ended
    ("depuis le 1er mars", WED, D(2025, 3, 1), None),
    ("depuis mars", WED, D(2025, 3, 1), None),
    ("depuis 2024", WED, D(2024, 1, 1), None),
    ("à partir du 1er mars", WED, D(2025, 3, 1), None),
    ("à partir d'avril", WED, D(2025, 4, 1), None),
    ("après le 1er mars", WED, D(2025, 3, 2), None),
    ("après mars", WED, D(2025, 4, 1), None),
    ("avant le 1er mars", WED, None, D(2025, 2, 28)),
    ("avant le 1er mars 2024", WED, None, D(2024, 2, 29)),
    ("avant mars", WED, None, D(2025, 2, 28)),
    ("avant 2024", WED, None, D(2023, 12, 31)),
    ("jusqu'au 15 mars", WED, None, D(2025, 3, 15)),
    ("jusqu'en mars", WED, None, D(2025, 3, 31)),
    ("depuis hier", WED, D(2025, 7, 29), None),
    ("depuis la semaine dernière", WED, D(2025, 7, 21), None),
    ("jusqu'à hier", WED, None, D(2025, 7, 29)),
    # French: ranges
    ("entre mars et mai 2025", WED, D(2025, 3, 1), D(2025, 5, 31)),
    ("entre le 3 mars et le 5 avril 2025", WED, D(2025, 3, 3), D(2025, 4, 5)),
    ("entre le 3 et le 10 mars", WED, D(2025, 3, 3), D(2025, 3, 10)),
    ("entre le 21 et le 22 juillet", WED, D(2025, 7, 21), D(2025, 7, 22)),
    ("du 3 au 10 mars 2025", WED, D(2025, 3, 3), D(2025, 3, 10)),
    ("du lundi 3 au vendredi 7 mars 2025", WED, D(2025, 3, 3), D(2025, 3, 7)),
    ("de mars à mai 2025", WED, D(2025, 3, 1), D(2025, 5, 31)),
    ("d'avril à juin 2024", WED, D(2024, 4, 1), D(2024, 6, 30)),
    ("entre novembre et février 2025", WED, D(2024, 11, 1), D(2025, 2, 28)),
    ("entre novembre et février", WED, D(2024, 11, 1), D(2025, 2, 28)),
    ("entre 2020 et 2023", WED, D(2020, 1, 1), D(2023, 12, 31)),
    # English: days, weeks, months, years
    ("today", WED, D(2025, 7, 30), D(2025, 7, 30)),
    ("yesterday", NEW_YEAR, D(2023, 12, 31), D(2023, 12, 31)),
    ("the day before yesterday", WED, D(2025, 7, 28), D(2025, 7, 28)),
    ("this week", MON, D(2025, 7, 28), D(2025, 7, 28)),
    ("this week", SUN, D(2025, 7, 28), D(2025, 8, 3)),
    ("last week", WED, D(2025, 7, 21), D(2025, 7, 27)),
    ("last week", SUN, D(2025, 7, 21), D(2025, 7, 27)),
    ("the past week", WED, D(2025, 7, 24), D(2025, 7, 30)),
    ("in the past week", MON, D(2025, 7, 22), D(2025, 7, 28)),
    ("over the past week", WED, D(2025, 7, 24), D(2025, 7, 30)),
    ("this month", WED, D(2025, 7, 1), D(2025, 7, 30)),
    ("last month", NEW_YEAR, D(2023, 12, 1), D(2023, 12, 31)),
    ("last month", LEAP, D(2024, 2, 1), D(2024, 2, 29)),
    ("the past month", WED, D(2025, 7, 1), D(2025, 7, 30)),
    ("the past month", LEAP, D(2024, 2, 2), D(2024, 3, 1)),
    ("this year", WED, D(2025, 1, 1), D(2025, 7, 30)),
    ("last year", WED, D(2024, 1, 1), D(2024, 12, 31)),
    ("the past year", WED, D(2024, 7, 31), D(2025, 7, 30)),
    # English: counted back
    ("3 days ago", WED, D(2025, 7, 27), D(2025, 7, 27)),
    ("two weeks ago", WED, D(2025, 7, 14), D(2025, 7, 20)),
    ("a month ago", NEW_YEAR, D(2023, 12, 1), D(2023, 12, 31)),
    ("ten years ago", WED, D(2015, 1, 1), D(2015, 12, 31)),
    ("in the last 3 days", WED, D(2025, 7, 28), D(2025, 7, 30)),
    ("over the past two weeks", WED, D(2025, 7, 17), D(2025, 7, 30)),
    ("during the last 6 months", WED, D(2025, 1, 31), D(2025, 7, 30)),
    ("last Monday", WED, D(2025, 7, 28), D(2025, 7, 28)),
    ("last Monday", MON, D(2025, 7, 21), D(2025, 7, 21)),
    ("last Sunday", SUN, D(2025, 7, 27), D(2025, 7, 27)),
    # English: named months, years and days
    ("in July 2025", WED, D(2025, 7, 1), D(2025, 7, 31)),
    ("in July", WED, D(2025, 7, 1), D(2025, 7, 31)),
    ("in August", WED, D(2024, 8, 1), D(2024, 8, 31)),
    ("during July", WED, D(2025, 7, 1), D(2025, 7, 31)),
    ("in May", WED, D(2025, 5, 1), D(2025, 5, 31)),
    ("in 2024", WED, D(2024, 1, 1), D(2024, 12, 31)),
    ("on July 22", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("on July 31", WED, D(2024, 7, 31), D(2024, 7, 31)),
    ("on July 22, 2025", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("on 22 July 2025", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("on the 1st of March", WED, D(2025, 3, 1), D(2025, 3, 1)),
    ("on March 1st", WED, D(2025, 3, 1), D(2025, 3, 1)),
    ("on 2025-07-22", WED, D(2025, 7, 22), D(2025, 7, 22)),
    ("on Tuesday, July 22", WED, D(2025, 7, 22), D(2025, 7, 22)),
    # English: open-ended
    ("since March 1", WED, D(2025, 3, 1), None),
    ("since March", WED, D(2025, 3, 1), None),
    ("since 2024", WED, D(2024, 1, 1), None),
    ("after March 1", WED, D(2025, 3, 2), None),
    ("after 2024", WED, D(2025, 1, 1), None),
    ("from March 1", WED, D(2025, 3, 1), None),
    ("before March 1", WED, None, D(2025, 2, 28)),
    ("before March", LEAP, None, D(2024, 2, 29)),
    ("until March 15", WED, None, D(2025, 3, 15)),
    ("till March 15", WED, None, D(2025, 3, 15)),
    ("through March 15", WED, None, D(2025, 3, 15)),
    ("until March", WED, None, D(2025, 3, 31)),
    ("since yesterday", WED, D(2025, 7, 29), None),
    ("since last week", WED, D(2025, 7, 21), None),
    # English: ranges
    ("between March and May 2025", WED, D(2025, 3, 1), D(2025, 5, 31)),
    ("between March 3 and April 5, 2025", WED, D(2025, 3, 3), D(2025, 4, 5)),
    ("between March 3 and 10", WED, D(2025, 3, 3), D(2025, 3, 10)),
    ("between the 21st and the 30th of September", WED, D(2024, 9, 21), D(2024, 9, 30)),
    ("from March 3 to March 10", WED, D(2025, 3, 3), D(2025, 3, 10)),
    ("from March to May 2025", WED, D(2025, 3, 1), D(2025, 5, 31)),
    ("from November to February 2025", WED, D(2024, 11, 1), D(2025, 2, 28)),
    # Several expressions: their intersection
    ("depuis mars avant juin 2025", WED, D(2025, 3, 1), D(2025, 5, 31)),
    ("since 2024 until March 2025", WED, D(2024, 1, 1), D(2025, 3, 31)),
    ("cette année avant le 1er mars", WED, D(2025, 1, 1), D(2025, 2, 28)),
    # Inside a long question, far from its start
    (("Quelles mesures le gouvernement a-t-il annoncées concernant la sécurité à Bamako, à "
      "Gao et dans les régions du nord, notamment après les attaques contre 12 convois, et "
      "quelle a été la réaction des organisations internationales entre le 3 et le 10 mars ?"),
     WED, D(2025, 3, 3), D(2025, 3, 10)),
]


@pytest.mark.parametrize(("question", "today", "since", "until"), WINDOWS,
                         ids=[f"{q[:40]}@{t}" for q, t, _, _ in WINDOWS])
def test_window_bounds(question: str, today: D, since: D | None, until: D | None) -> None:
    window = find_window(question, today).window
    assert window is not None
    assert (window.since, window.until) == (since, until)


# (question, question without its time, Window.text)
REMOVALS = [
    ("Que s'est-il passé à Bamako la semaine dernière ?", "Que s'est-il passé à Bamako ?",
     "la semaine dernière"),
    ("What happened in Bamako last week?", "What happened in Bamako?", "last week"),
    ("Hier, que s'est-il passé à Gao ?", "que s'est-il passé à Gao ?", "Hier"),
    ("Qui a gagné, en 2024 ?", "Qui a gagné ?", "en 2024"),
    ("Who won the vote in July 2025?", "Who won the vote?", "in July 2025"),
    ("Quelles réformes Depuis Le 1er Mars ?", "Quelles réformes ?", "Depuis Le 1er Mars"),
    ("Qu’a dit le ministre aujourd’hui ?", "Qu’a dit le ministre ?", "aujourd’hui"),
    ("What did the minister say on July 22, 2025, in Paris?",
     "What did the minister say, in Paris?", "on July 22, 2025"),
    ("Combien de recrues entre mars et mai 2025 au Mali ?", "Combien de recrues au Mali ?",
     "entre mars et mai 2025"),
    ("Quels accords depuis mars avant juin 2025 ?", "Quels accords ?",
     "depuis mars ; avant juin 2025"),
    ("What happened over the past week in Bamako?", "What happened in Bamako?",
     "over the past week"),
    ("Que s'est-il passé il y a deux semaines\n à  Gao ?", "Que s'est-il passé à Gao ?",
     "il y a deux semaines"),
    ("Les chiffres publiés le 22 juillet.", "Les chiffres publiés.", "le 22 juillet"),
    ("Which laws passed Since March 1?", "Which laws passed?", "Since March 1"),
    ("Qu'a dit le président au cours du mois dernier ?", "Qu'a dit le président ?",
     "au cours du mois dernier"),
    # Nothing but time: the question stays whole.
    ("hier ?", "hier ?", "hier"),
    ("In 2024.", "In 2024.", "In 2024"),
]


@pytest.mark.parametrize(("question", "rest", "text"), REMOVALS)
def test_question_without_its_time(question: str, rest: str, text: str) -> None:
    timed = find_window(question, WED)
    assert timed.window is not None
    assert (timed.question, timed.window.text) == (rest, text)


NOT_WINDOWS = [
    "900 nouvelles recrues",
    "Combien de recrues en 2 ans de formation ?",
    "Que s'est-il passé les 21 et 22 juillet ?",
    "Qu'ont-ils fait le 21 et le 22 juillet ?",
    "What happened on March 21 and 22?",
    "Qui est le 1er ministre ?",
    "Qui est le premier ministre ?",
    "Qui a gagné la coupe de 1998 ?",
    "Who won the 2024 elections?",
    "Que dit l'article 49 alinéa 3 ?",
    "May I ask who won?",
    "Since may be wrong, who checks?",
    "Quels résultats au 3e trimestre ?",
    "Mars est-elle habitable ?",
    "Quelle est la distance entre Mars et la Terre ?",
    "Quelle est la mission de Mars 2020 ?",
    "Le code 12345 est-il valide ?",
    "Le vol part à 22 h 30.",
    "What happened after the march on Washington?",
    "Le billet coûte entre 2000 et 2100 euros.",
    "le 31 février",
    "",
]


@pytest.mark.parametrize("question", NOT_WINDOWS)
def test_not_a_window(question: str) -> None:
    assert find_window(question, WED) == TimedQuestion(question, None)


def test_every_match_lies_near_a_keyword() -> None:
    # find_window scans only the stretches around keywords; a full scan must find no more.
    questions = [q for q, *_ in WINDOWS] + [q for q, *_ in REMOVALS] + NOT_WINDOWS
    for question in questions:
        low = timeframe._fold(question)
        full = {(i, m.span()) for i, rule in enumerate(timeframe._RULES)
                for m in rule.pattern.finditer(low)}
        near = {(i, m.span()) for i, m in timeframe._matches(low)}
        assert near == full, question


def test_fold_keeps_offsets() -> None:
    question = "İstanbul: que s’est-il passé HIER ?"
    timed = find_window(question, WED)
    assert timed.window == Window(D(2025, 7, 29), D(2025, 7, 29), "HIER")
    assert timed.question == "İstanbul: que s’est-il passé ?"


# -- Explicit dates -------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("2025-07-22", D(2025, 7, 22)),
    ("2025-07-22T10:00:00+02:00", D(2025, 7, 22)),
    ("2025-07-22T23:30:00-05:00", D(2025, 7, 22)),  # the local date, not the UTC one
    ("2025-07-22T00:30:00Z", D(2025, 7, 22)),
    ("2025-07-22T10:00:00.123456+00:00", D(2025, 7, 22)),
    ("2025-07-22 10:00", D(2025, 7, 22)),
    ("22/07/2025", D(2025, 7, 22)),
    ("22 juillet 2025", D(2025, 7, 22)),
    ("mardi 22 juillet 2025", D(2025, 7, 22)),
    ("Mardi 22 Juillet 2025 à 10h30", D(2025, 7, 22)),
    ("1er août 2025", D(2025, 8, 1)),
    ("July 22, 2025", D(2025, 7, 22)),
    ("22 July 2025", D(2025, 7, 22)),
    ("Tuesday, July 22, 2025", D(2025, 7, 22)),
    ("Tue, 22 Jul 2025 10:00:00 +0000", D(2025, 7, 22)),
    ("Tue, 22 Jul 2025 23:30:00 -0500", D(2025, 7, 22)),
    ("  2025-07-22  ", D(2025, 7, 22)),
    ("2025", None),
    ("juillet 2025", None),
    ("22 juillet", None),
    ("garbage", None),
    ("2025-02-30", None),
    ("31/02/2025", None),
    ("22/07/25", None),
    ("", None),
    ("   ", None),
    (None, None),
])
def test_published_day(value: str | None, expected: D | None) -> None:
    assert published_day(value) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-07-01", D(2025, 7, 1)),
    (" 2025-07-01 ", D(2025, 7, 1)),
    ("22/07/2025", D(2025, 7, 22)),
    ("22 juillet 2025", D(2025, 7, 22)),
    ("1er mars 2025", D(2025, 3, 1)),
    ("July 22, 2025", D(2025, 7, 22)),
    ("22 July 2025", D(2025, 7, 22)),
    ("29 février 2024", D(2024, 2, 29)),
])
def test_parse_day(text: str, expected: D) -> None:
    assert parse_day(text) == expected


@pytest.mark.parametrize("text", ["", "hier", "2025", "juillet 2025", "July 22", "2025-13-01",
                                  "29 février 2025", "32/01/2025", "2025-07-01T10:00"])
def test_parse_day_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day(text)


# -- Window ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("window", "fr", "en"), [
    (Window(D(2025, 7, 22), D(2025, 7, 22)), "le 22 juillet 2025", "on 22 July 2025"),
    (Window(D(2025, 3, 1), D(2025, 3, 1)), "le 1er mars 2025", "on 1 March 2025"),
    (Window(D(2025, 7, 1), D(2025, 7, 31)), "en juillet 2025", "in July 2025"),
    (Window(D(2024, 2, 1), D(2024, 2, 29)), "en février 2024", "in February 2024"),
    (Window(D(2024, 1, 1), D(2024, 12, 31)), "en 2024", "in 2024"),
    (Window(D(2025, 7, 14), D(2025, 7, 20)), "du 14 juillet 2025 au 20 juillet 2025",
     "from 14 July 2025 to 20 July 2025"),
    (Window(D(2025, 8, 1), D(2025, 8, 30)), "du 1er août 2025 au 30 août 2025",
     "from 1 August 2025 to 30 August 2025"),
    (Window(D(2024, 12, 1), D(2025, 1, 31)), "du 1er décembre 2024 au 31 janvier 2025",
     "from 1 December 2024 to 31 January 2025"),
    (Window(D(2025, 3, 1), None), "depuis le 1er mars 2025", "since 1 March 2025"),
    (Window(None, D(2025, 2, 28)), "jusqu'au 28 février 2025", "until 28 February 2025"),
    (Window(None, None), "", ""),
])
def test_describe(window: Window, fr: str, en: str) -> None:
    assert (window.describe("fr"), window.describe("en"), window.describe("de")) == (fr, en, en)


def test_intersect() -> None:
    since = Window(D(2025, 3, 1), None, "depuis mars")
    before = Window(None, D(2025, 5, 31), "avant juin 2025")
    explicit = Window(D(2025, 4, 1), D(2025, 6, 30))
    assert since.intersect(before) == Window(D(2025, 3, 1), D(2025, 5, 31),
                                             "depuis mars ; avant juin 2025")
    assert since.intersect(before).intersect(explicit) == Window(
        D(2025, 4, 1), D(2025, 5, 31), "depuis mars ; avant juin 2025")
    assert explicit.intersect(since) == Window(D(2025, 4, 1), D(2025, 6, 30), "depuis mars")
    assert Window(None, None).intersect(Window(None, None)) == Window(None, None, "")


def test_contains_and_empty() -> None:
    window = Window(D(2025, 3, 1), D(2025, 3, 31))
    assert [window.contains(d) for d in (D(2025, 2, 28), D(2025, 3, 1), D(2025, 3, 31),
                                         D(2025, 4, 1))] == [False, True, True, False]
    assert Window(D(2025, 3, 1), None).contains(D(2099, 1, 1))
    assert not Window(D(2025, 3, 1), None).contains(D(2025, 2, 28))
    assert Window(None, D(2025, 3, 1)).contains(D(1900, 1, 1))
    assert Window(None, None).contains(D(2025, 3, 1))
    assert not window.empty
    assert not Window(D(2025, 3, 1), D(2025, 3, 1)).empty
    assert not Window(D(2025, 3, 1), None).empty
    assert Window(D(2025, 3, 2), D(2025, 3, 1)).empty
    two_days = find_window("le 14 juillet et le 15 août", WED).window
    assert two_days == Window(D(2025, 7, 14), D(2024, 8, 15), "le 14 juillet ; le 15 août")
    assert two_days.empty


def test_to_json() -> None:
    assert Window(D(2025, 3, 1), D(2025, 5, 31), "entre mars et mai 2025").to_json() == {
        "since": "2025-03-01", "until": "2025-05-31", "text": "entre mars et mai 2025"}
    assert Window(None, D(2025, 2, 28)).to_json() == {
        "since": None, "until": "2025-02-28", "text": None}


def test_public_names() -> None:
    assert sorted(timeframe.__all__) == [
        "TimedQuestion", "Window", "find_window", "parse_day", "published_day"]


def test_a_range_whose_days_run_backwards_is_no_range() -> None:
    # Not 10 March to 5 March of the next year: at most the day it ends on.
    window = find_window("Qu'a-t-il dit du 10 au 5 mars ?", D(2025, 7, 30)).window
    assert window is None or window.since == window.until == D(2025, 3, 5)
