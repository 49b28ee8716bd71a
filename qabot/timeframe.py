"""Dates in text: the publication date of an article, and the time window a question names ("la semaine dernière", "since March 1")."""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from email.utils import parsedate_to_datetime

__all__ = ["TimedQuestion", "Window", "find_window", "parse_day", "published_day"]


@dataclass(frozen=True, slots=True)
class Window:
    """Days from `since` to `until`, both inclusive; None leaves that side open."""

    since: date | None
    until: date | None
    text: str = ""

    def contains(self, day: date) -> bool:
        return (self.since is None or self.since <= day) and (
            self.until is None or day <= self.until
        )

    def intersect(self, other: Window) -> Window:
        since = max((d for d in (self.since, other.since) if d is not None), default=None)
        until = min((d for d in (self.until, other.until) if d is not None), default=None)
        text = " ; ".join(t for t in (self.text, other.text) if t)
        return Window(since, until, text)

    @property
    def empty(self) -> bool:
        return self.since is not None and self.until is not None and self.since > self.until

    def to_json(self) -> dict[str, str | None]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "text": self.text or None,
        }

    def describe(self, lang: str) -> str:
        """The end of "Articles published …": "en juillet 2025", "since 1 March 2025"."""
        fr = lang == "fr"
        since, until = self.since, self.until
        if since is not None and until is not None:
            if since == until:
                return f"le {_spell(since, fr)}" if fr else f"on {_spell(since, fr)}"
            if since.day == 1 and until == _month_end(since.year, since.month):
                name = _FR_NAMES[since.month - 1] if fr else _EN_NAMES[since.month - 1]
                return f"{'en' if fr else 'in'} {name} {since.year}"
            if (since.month, since.day) == (1, 1) and until == date(since.year, 12, 31):
                return f"{'en' if fr else 'in'} {since.year}"
            if fr:
                return f"du {_spell(since, fr)} au {_spell(until, fr)}"
            return f"from {_spell(since, fr)} to {_spell(until, fr)}"
        if since is not None:
            return f"depuis le {_spell(since, fr)}" if fr else f"since {_spell(since, fr)}"
        if until is not None:
            return f"jusqu'au {_spell(until, fr)}" if fr else f"until {_spell(until, fr)}"
        return ""


@dataclass(frozen=True, slots=True)
class TimedQuestion:
    """A question split into what it asks and the time window it names."""

    question: str
    window: Window | None


# ---------------------------------------------------------------------------------------------
# Vocabulary

_FR_NAMES = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre"]
_EN_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December"]
_FR_MONTHS = {name: i + 1 for i, name in enumerate(_FR_NAMES)}
# Users type without accents; both spellings must resolve.
_FR_MONTHS.update({"fevrier": 2, "aout": 8, "decembre": 12})
_EN_MONTHS = {name.lower(): i + 1 for i, name in enumerate(_EN_NAMES)}
_MONTHS = _FR_MONTHS | _EN_MONTHS

_FR_WEEKDAYS = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
_EN_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAYS = {name: i % 7 for i, name in enumerate(_FR_WEEKDAYS + _EN_WEEKDAYS)}

_FR_NUMBERS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6,
               "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12,
               "quinze": 15, "vingt": 20, "trente": 30}
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
               "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
               "fifteen": 15, "twenty": 20, "thirty": 30}
_NUMBERS = _FR_NUMBERS | _EN_NUMBERS


def _alt(words: Iterable[str]) -> str:
    # Longest first, so that "juillet" is not cut short by a shorter alternative.
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


# ---------------------------------------------------------------------------------------------
# Regex fragments. They run on the folded (lowercased, ’ -> ') copy of the question.

_MONTH_FR = _alt(_FR_MONTHS) + r"(?!\w)"
# "may" is a modal verb far more often than a month: "since may be", "May I ask".
_MONTH_EN = (rf"(?:{_alt(set(_EN_MONTHS) - {'may'})}(?!\w)"
             r"|may(?!\w)(?!\s+(?:be|have|not|also|well|still|never|only|just|i)(?!\w)))")
_WD_FR = _alt(_FR_WEEKDAYS) + r"(?!\w)"
_WD_EN = _alt(_EN_WEEKDAYS) + r"(?!\w)"
_DAY_FR = r"(?:premier|(?:[12]\d|3[01]|0?[1-9])(?:er)?)(?!\w)"
_DAY_EN = r"(?:first|(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?)(?!\w)"
# A year is 1800-2099 and not the head of a longer number, a decimal or a date range.
_YEAR = r"(?:1[89]|20)\d\d(?!\w|[-/.,]\d)"
_ISO = r"\d\d\d\d-\d\d-\d\d(?!\w|-\d)"
_NUM = r"\d\d?/\d\d?/\d\d\d\d(?!\w|/\d)"

_DAYDATE_FR = rf"(?:{_WD_FR},?\s+)?(?:{_ISO}|{_NUM}|{_DAY_FR}\s+{_MONTH_FR}(?:\s+{_YEAR})?)"
_DAYDATE_EN = (rf"(?:{_WD_EN},?\s+)?(?:{_ISO}|{_NUM}"
               rf"|{_DAY_EN}\s+(?:of\s+)?{_MONTH_EN}(?:,?\s+{_YEAR})?"
               rf"|{_MONTH_EN}\s+{_DAY_EN}(?:,?\s+{_YEAR})?)")
_TERM_FR = rf"(?:{_DAYDATE_FR}|{_MONTH_FR}(?:\s+{_YEAR})?|{_YEAR})"
_TERM_EN = rf"(?:{_DAYDATE_EN}|{_MONTH_EN}(?:\s+{_YEAR})?|{_YEAR})"
# Either end of a range may be a bare day that borrows its month from the other end.
_RTERM_FR = rf"(?:{_TERM_FR}|(?:{_WD_FR}\s+)?{_DAY_FR})"
_RTERM_EN = rf"(?:{_TERM_EN}|(?:{_WD_EN},?\s+)?{_DAY_EN})"

_LE = r"(?:le\s+(?:mois\s+(?:de\s+|d'))?|l'\s*)?"
# "the" only before a day number: "after the march" is a procession, not a month.
_THE = r"(?:the\s+(?=\d|first(?!\w)))?"
_PAST_F = r"(?:derni[eè]re|pass[ée]e|pr[ée]c[ée]dente)"
_PAST_M = r"(?:dernier|pass[ée]|pr[ée]c[ée]dent)"
_INTRO_FR = r"(?:(?:au\s+cours|lors)\s+de\s+|pendant\s+|durant\s+|de\s+)?"
_N_FR = rf"(?:\d{{1,3}}|{_alt(_FR_NUMBERS)})"
_N_EN = rf"(?:\d{{1,3}}|{_alt(_EN_NUMBERS)})"
_UNIT_FR = r"(?:jours?|semaines?|mois|ans?|ann[ée]es?)"
_UNIT_EN = r"(?:days?|weeks?|months?|years?)"

# Parses one date term already found by the fragments above (both languages at once).
_DAY_ANY = r"(?:premier|first|(?:[12]\d|3[01]|0?[1-9])(?:er|st|nd|rd|th)?)"
_MONTH_ANY = _alt(_MONTHS)
_TERM_RE = re.compile(
    rf"(?:{_alt(_WEEKDAYS)},?\s+)?"
    rf"(?:(?P<iy>\d{{4}})-(?P<im>\d\d?)-(?P<id>\d\d?)"
    rf"|(?P<nd>\d\d?)/(?P<nm>\d\d?)/(?P<ny>\d{{4}})"
    rf"|(?P<ad>{_DAY_ANY})\s+(?:of\s+)?(?P<am>{_MONTH_ANY}),?(?:\s+(?P<ay>\d{{4}}))?"
    rf"|(?P<bm>{_MONTH_ANY})\s+(?P<bd>{_DAY_ANY}),?(?:\s+(?P<by>\d{{4}}))?"
    rf"|(?P<mm>{_MONTH_ANY}),?(?:\s+(?P<my>\d{{4}}))?"
    rf"|(?P<yy>\d{{4}})"
    rf"|(?P<dd>{_DAY_ANY}))"
)


@dataclass(frozen=True, slots=True)
class _Term:
    year: int | None
    month: int | None
    day: int | None


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def _day_number(text: str) -> int:
    if text in ("premier", "first"):
        return 1
    return int(text.rstrip("erstndh"))


def _term(text: str) -> _Term | None:
    m = _TERM_RE.fullmatch(text)
    if m is None:
        return None
    g = m.group
    if g("iy"):
        return _Term(int(g("iy")), int(g("im")), int(g("id")))
    if g("ny"):
        day, month = int(g("nd")), int(g("nm"))
        if month > 12 >= day:  # 07/22/2025: only the American order makes sense
            day, month = month, day
        return _Term(int(g("ny")), month, day)
    if g("am"):
        return _Term(_int(g("ay")), _MONTHS[g("am")], _day_number(g("ad")))
    if g("bm"):
        return _Term(_int(g("by")), _MONTHS[g("bm")], _day_number(g("bd")))
    if g("mm"):
        return _Term(_int(g("my")), _MONTHS[g("mm")], None)
    if g("yy"):
        return _Term(int(g("yy")), None, None)
    return _Term(None, None, _day_number(g("dd")))


# ---------------------------------------------------------------------------------------------
# Calendar arithmetic


def _month_end(year: int, month: int) -> date:
    return date(year, month, monthrange(year, month)[1])


def _add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month0 + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _recent_day(month: int, day: int, today: date) -> date | None:
    """The latest month/day on or before today (29 February looks back to a leap year)."""
    for year in range(today.year, today.year - 8, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= today:
            return candidate
    return None


def _default_year(term: _Term, today: date) -> int | None:
    """The year of the most recent such month or day that has started."""
    assert term.month is not None
    if term.day is None:
        return today.year if term.month <= today.month else today.year - 1
    found = _recent_day(term.month, term.day, today)
    return found.year if found else None


def _extent(term: _Term, today: date) -> tuple[date, date] | None:
    """First and last day a term covers: a day, a month or a year."""
    if term.month is None:
        if term.year is None:
            return None  # a bare day number means nothing on its own
        return date(term.year, 1, 1), date(term.year, 12, 31)
    year = term.year if term.year is not None else _default_year(term, today)
    if year is None:
        return None
    if term.day is None:
        return date(year, term.month, 1), _month_end(year, term.month)
    day = date(year, term.month, term.day)
    return day, day


def _spell(day: date, fr: bool) -> str:
    if fr:
        return f"{'1er' if day.day == 1 else day.day} {_FR_NAMES[day.month - 1]} {day.year}"
    return f"{day.day} {_EN_NAMES[day.month - 1]} {day.year}"


# ---------------------------------------------------------------------------------------------
# Rules: a compiled pattern and the function that turns its match into bounds.

_Bounds = tuple[date | None, date | None]
_Resolver = Callable[[re.Match[str], date], _Bounds | None]


@dataclass(frozen=True, slots=True)
class _Rule:
    pattern: re.Pattern[str]
    resolve: _Resolver
    source: str
    needs: frozenset[str]  # keyword kinds of which the question must hold one
    day: bool  # a written-out day-month: "les 21 et 22 juillet" must not count
    relative: bool  # may follow "depuis"/"jusqu'à": "depuis hier", "until last week"


_RULES: list[_Rule] = []

# Each rule's matches hold one of its keywords. One pass over the words of the question finds
# them, and a rule is run only on the stretches around its keywords: a regex scan costs about
# 15 µs per rule over 500 characters, and most questions name no time at all.
_KINDS = {word: kind for kind, words in (
    ("today", "aujourd matin soir midi today tonight morning afternoon evening"),
    ("yesterday", "hier yesterday night"),
    ("day", "jour jours day days"),
    ("week", "semaine semaines week weeks"),
    ("month", "mois month months"),
    ("year", "an ans année années annee annees year years"),
    ("weekday", " ".join(_WEEKDAYS)),
    ("monthname", " ".join(_MONTHS)),
) for word in words.split()}
_WORD = re.compile(r"\w+")
# A number alone needs a month name or a unit to be a date ("le 22 juillet", "il y a 3 jours"),
# except a year, which also carries the numeric forms "22/07/2025" and "2025-07-22".
_YEARISH = re.compile(r"(?<!\d)(?:1[89]|20)\d\d(?!\d)")
# How far a match reaches before the start of its first keyword ("between the 21st and the 30th
# of September", "au cours des quinze dernières semaines") and after the start of its last one
# ("from September 3rd until the 30th").
_REACH_BEFORE = 44
_REACH_AFTER = 36
_DATES = "monthname yearnum"
_UNITS = "day week month year"


def _rule(*patterns: str, needs: str, day: bool = False, relative: bool = False
          ) -> Callable[[_Resolver], _Resolver]:
    def register(resolve: _Resolver) -> _Resolver:
        for source in patterns:
            compiled = re.compile(rf"(?<!\w)(?:{source})(?!\w)")
            _RULES.append(_Rule(compiled, resolve, source, frozenset(needs.split()), day,
                                relative))
        return resolve
    return register


def _one(day: date) -> _Bounds:
    return day, day


@_rule(r"aujourd'hui|ce\s+matin|ce\s+soir|cet\s+apr[eè]s-midi"
       r"|today|tonight|this\s+(?:morning|afternoon|evening)", needs="today",
       relative=True)
def _today(m: re.Match[str], today: date) -> _Bounds:
    return _one(today)


@_rule(r"hier(?:\s+(?:soir|matin|apr[eè]s-midi))?"
       r"|yesterday(?:\s+(?:morning|afternoon|evening))?|last\s+night", needs="yesterday",
       relative=True)
def _yesterday(m: re.Match[str], today: date) -> _Bounds:
    return _one(today - timedelta(days=1))


@_rule(r"avant[- ]hier(?:\s+(?:soir|matin|apr[eè]s-midi))?|(?:the\s+)?day\s+before\s+yesterday",
       needs="yesterday", relative=True)
def _before_yesterday(m: re.Match[str], today: date) -> _Bounds:
    return _one(today - timedelta(days=2))


@_rule(rf"{_INTRO_FR}cette\s+semaine|this\s+week", needs="week", relative=True)
def _this_week(m: re.Match[str], today: date) -> _Bounds:
    return _monday(today), today


@_rule(rf"{_INTRO_FR}la\s+semaine\s+{_PAST_F}|last\s+week", needs="week", relative=True)
def _last_week(m: re.Match[str], today: date) -> _Bounds:
    monday = _monday(today) - timedelta(days=7)
    return monday, monday + timedelta(days=6)


@_rule(rf"{_INTRO_FR}ce\s+mois(?:[- ]ci)?|this\s+month", needs="month", relative=True)
def _this_month(m: re.Match[str], today: date) -> _Bounds:
    return today.replace(day=1), today


@_rule(rf"(?:(?:au\s+cours|lors)\s+du\s+|(?:pendant|durant)\s+le\s+|le\s+|du\s+|au\s+)"
       rf"mois\s+{_PAST_M}|last\s+month", needs="month", relative=True)
def _last_month(m: re.Match[str], today: date) -> _Bounds:
    first = _add_months(today.replace(day=1), -1)
    return first, _month_end(first.year, first.month)


@_rule(rf"{_INTRO_FR}cette\s+ann[ée]e|this\s+year", needs="year", relative=True)
def _this_year(m: re.Match[str], today: date) -> _Bounds:
    return date(today.year, 1, 1), today


@_rule(rf"{_INTRO_FR}l'\s*(?:ann[ée]e\s+{_PAST_F}|an\s+{_PAST_M})|last\s+year", needs="year",
       relative=True)
def _last_year(m: re.Match[str], today: date) -> _Bounds:
    return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)


def _count(m: re.Match[str]) -> tuple[int, str]:
    """N and its unit as one letter of d/w/m/y ("semaines" -> w, "ans" -> y)."""
    n = m.group("n")
    unit = m.group("u")[0]
    return (int(n) if n.isdigit() else _NUMBERS[n]), {"j": "d", "s": "w", "a": "y"}.get(unit, unit)


@_rule(rf"il\s+y\s+a\s+(?P<n>{_N_FR})\s+(?P<u>{_UNIT_FR})",
       rf"(?P<n>{_N_EN})\s+(?P<u>{_UNIT_EN})\s+ago", needs=_UNITS, relative=True)
def _ago(m: re.Match[str], today: date) -> _Bounds:
    # The calendar unit that held that moment: "il y a 2 mois" is the whole month.
    n, unit = _count(m)
    if unit == "d":
        return _one(today - timedelta(days=n))
    if unit == "w":
        monday = _monday(today - timedelta(weeks=n))
        return monday, monday + timedelta(days=6)
    if unit == "m":
        first = _add_months(today.replace(day=1), -n)
        return first, _month_end(first.year, first.month)
    return date(today.year - n, 1, 1), date(today.year - n, 12, 31)


def _rolling(n: int, unit: str, today: date) -> _Bounds:
    if unit == "d":
        start = today - timedelta(days=n)
    elif unit == "w":
        start = today - timedelta(weeks=n)
    else:
        start = _add_months(today, -n * (12 if unit == "y" else 1))
    return start + timedelta(days=1), today


@_rule(rf"(?:(?:au\s+cours|lors)\s+des\s+|(?:pendant|durant|sur|dans)\s+(?:les|ces)\s+|les\s+"
       rf"|ces\s+)(?P<n>{_N_FR})\s+derni[eè]re?s\s+(?P<u>{_UNIT_FR})",
       rf"depuis\s+(?P<n>{_N_FR})\s+(?P<u>{_UNIT_FR})",
       rf"(?:(?:in|over|during|within|for)\s+)?(?:the\s+)?(?:last|past)\s+(?P<n>{_N_EN})"
       rf"\s+(?P<u>{_UNIT_EN})", needs=_UNITS)
def _last_n(m: re.Match[str], today: date) -> _Bounds:
    n, unit = _count(m)
    return _rolling(n, unit, today)


@_rule(r"(?:(?:in|over|during|within|for)\s+)?the\s+(?:past|last)\s+(?P<u>week|month|year)",
       needs=_UNITS)
def _the_past(m: re.Match[str], today: date) -> _Bounds:
    # "the past week" rolls back from today, unlike the calendar "last week".
    return _rolling(1, m.group("u")[0], today)


@_rule(rf"(?:le\s+)?(?P<wd>{_WD_FR})\s+{_PAST_M}", rf"(?<!the\s)last\s+(?P<wd>{_WD_EN})",
       needs="weekday", relative=True)
def _last_weekday(m: re.Match[str], today: date) -> _Bounds:
    back = (today.weekday() - _WEEKDAYS[m.group("wd")]) % 7 or 7
    return _one(today - timedelta(days=back))


_IN_MONTH_FR = (r"(?:(?:en|courant|durant|pendant)\s+|au\s+(?:cours|mois)\s+(?:de\s+|d')"
                r"|au\s+cours\s+du\s+mois\s+(?:de\s+|d'))")


@_rule(rf"{_IN_MONTH_FR}?(?P<m>{_MONTH_FR})\s+dernier",
       rf"(?<!the\s)(?:(?:in|during)\s+)?last\s+(?P<m>{_MONTH_EN})", needs="monthname",
       relative=True)
def _last_named_month(m: re.Match[str], today: date) -> _Bounds:
    month = _MONTHS[m.group("m")]
    year = today.year if month < today.month else today.year - 1
    return date(year, month, 1), _month_end(year, month)


def _term_bounds(m: re.Match[str], today: date) -> tuple[date, date] | None:
    term = _term(m.group("a"))
    return _extent(term, today) if term else None


@_rule(rf"{_IN_MONTH_FR}(?P<a>{_MONTH_FR}(?:\s+{_YEAR})?|{_YEAR})",
       rf"(?:(?:in|during|throughout)\s+|in\s+the\s+month\s+of\s+)"
       rf"(?P<a>{_MONTH_EN}(?:\s+{_YEAR})?|{_YEAR})", needs=_DATES)
def _in_period(m: re.Match[str], today: date) -> _Bounds | None:
    return _term_bounds(m, today)


@_rule(rf"(?:le\s+|du\s+|au\s+|l'\s*)(?P<a>{_DAYDATE_FR})(?:\s+dernier)?",
       rf"(?:on\s+{_THE}|the\s+)(?P<a>{_DAYDATE_EN})",
       rf"(?={_WD_FR})(?P<a>{_DAYDATE_FR})",
       rf"(?={_WD_EN})(?P<a>{_DAYDATE_EN})", needs=_DATES, day=True)
def _on_day(m: re.Match[str], today: date) -> _Bounds | None:
    return _term_bounds(m, today)


@_rule(rf"(?:depuis\s+|(?:à|a)\s+partir\s+(?:du\s+|de\s+|d')|dès\s+){_LE}(?P<a>{_TERM_FR})",
       rf"(?:since|from|starting(?:\s+(?:on|from|in))?)\s+{_THE}(?P<a>{_TERM_EN})", needs=_DATES)
def _since(m: re.Match[str], today: date) -> _Bounds | None:
    bounds = _term_bounds(m, today)
    return (bounds[0], None) if bounds else None


@_rule(rf"apr[eè]s\s+{_LE}(?P<a>{_TERM_FR})", rf"after\s+{_THE}(?P<a>{_TERM_EN})", needs=_DATES)
def _after(m: re.Match[str], today: date) -> _Bounds | None:
    bounds = _term_bounds(m, today)
    return (bounds[1] + timedelta(days=1), None) if bounds else None


@_rule(rf"avant\s+{_LE}(?P<a>{_TERM_FR})", rf"before\s+{_THE}(?P<a>{_TERM_EN})", needs=_DATES)
def _before(m: re.Match[str], today: date) -> _Bounds | None:
    bounds = _term_bounds(m, today)
    return (None, bounds[0] - timedelta(days=1)) if bounds else None


@_rule(rf"jusqu'\s*(?:au\s+(?:mois\s+(?:de\s+|d'))?|(?:à|a)\s+{_LE}|en\s+)(?P<a>{_TERM_FR})",
       rf"(?:until|till|through|thru)\s+{_THE}(?P<a>{_TERM_EN})", needs=_DATES)
def _until(m: re.Match[str], today: date) -> _Bounds | None:
    bounds = _term_bounds(m, today)
    return (None, bounds[1]) if bounds else None


@_rule(rf"entre\s+{_LE}(?P<a>{_RTERM_FR})\s+et\s+{_LE}(?P<b>{_RTERM_FR})",
       rf"du\s+(?P<a>{_RTERM_FR})\s+(?:au|jusqu'au)\s+(?P<b>{_RTERM_FR})",
       rf"(?:de\s+|d')(?P<a>{_RTERM_FR})\s+(?:à|a|jusqu'(?:à|a|en|au))\s+(?P<b>{_RTERM_FR})",
       rf"between\s+{_THE}(?P<a>{_RTERM_EN})\s+and\s+{_THE}(?P<b>{_RTERM_EN})",
       rf"from\s+{_THE}(?P<a>{_RTERM_EN})\s+(?:to|until|till|through|thru)\s+{_THE}"
       rf"(?P<b>{_RTERM_EN})", needs=_DATES)
def _between(m: re.Match[str], today: date) -> _Bounds | None:
    a, b = _term(m.group("a")), _term(m.group("b"))
    if a is None or b is None:
        return None
    # A bare day borrows the other end's month: "entre le 3 et le 10 mars", "March 3 and 10".
    borrowed = (a.month is None and a.year is None) or (b.month is None and b.year is None)
    if a.month is None and a.year is None:
        a = replace(a, month=b.month)
    if b.month is None and b.year is None:
        b = replace(b, month=a.month)
    if (a.month is None and a.year is None) or (b.month is None and b.year is None):
        return None
    if borrowed and (a.day or 0) > (b.day or 0):
        return None  # "du 10 au 5 mars": no such days (not 10 March to 5 March next year)
    later = (a.month is not None and b.month is not None
             and (a.month, a.day or 0) > (b.month, b.day or 0))
    # A missing year comes from the other end; a start month after the end month wraps back.
    if a.year is None and b.year is None:
        a = replace(a, year=_default_year(a, today))
        if a.year is None:
            return None
        b = replace(b, year=a.year + later)
    elif a.year is None:
        assert b.year is not None
        a = replace(a, year=b.year - later)
    elif b.year is None:
        b = replace(b, year=a.year + later)
    start, end = _extent(a, today), _extent(b, today)
    if start is None or end is None:
        return None
    return start[0], end[1]


_RELATIVE = [rule for rule in _RULES if rule.relative]
# Named groups repeat across these rules; inside one alternation they must be anonymous.
_RELATIVE_SRC = "|".join(re.sub(r"\(\?P<\w+>", "(?:", r.source) for r in _RELATIVE)
_RELATIVE_NEEDS = " ".join(sorted(set().union(*(r.needs for r in _RELATIVE))))


def _relative_bounds(m: re.Match[str], today: date) -> _Bounds | None:
    text = m.group("r")
    for rule in _RELATIVE:
        found = rule.pattern.fullmatch(text)
        if found:
            return rule.resolve(found, today)
    return None


@_rule(rf"(?:depuis\s+|(?:à|a)\s+partir\s+d'\s*|dès\s+|since\s+)(?P<r>{_RELATIVE_SRC})",
       needs=_RELATIVE_NEEDS)
def _since_relative(m: re.Match[str], today: date) -> _Bounds | None:
    bounds = _relative_bounds(m, today)
    return (bounds[0], None) if bounds else None


@_rule(rf"(?:jusqu'\s*(?:(?:à|a)\s+)?|until\s+|till\s+)(?P<r>{_RELATIVE_SRC})",
       needs=_RELATIVE_NEEDS)
def _until_relative(m: re.Match[str], today: date) -> _Bounds | None:
    bounds = _relative_bounds(m, today)
    return (None, bounds[1]) if bounds else None


# "les 21 et 22 juillet", "March 21 and 22": days being listed, i.e. the subject of the question.
_ENUM_BEFORE = re.compile(r"(?:\d(?:er|st|nd|rd|th)?\s*(?:,|et|and|&)|(?<!\w)les)\s*$")
_ENUM_AFTER = re.compile(r"\s*(?:,|et|and|&)\s*\d\d?(?:er|st|nd|rd|th)?(?!\w)")
_ENDS_WITH_DAY = re.compile(r"[a-zé]\s+\d\d?(?:st|nd|rd|th)?$")
# "between 2000 and 2100 euros": amounts that happen to look like years.
_UNIT_AFTER = re.compile(r"\s*(?:%|€|\$|£|(?:euros?|dollars?|francs?|personnes|people|habitants"
                         r"|morts|victimes|km|tonnes|fois|times|cas|cases)(?!\w))")


def _plausible(rule: _Rule, low: str, start: int, end: int) -> bool:
    """False for the numbers that are the question's content rather than its time."""
    if rule.day:
        if _ENUM_BEFORE.search(low, max(0, start - 12), start):
            return False
        if _ENDS_WITH_DAY.search(low, start, end) and _ENUM_AFTER.match(low, end):
            return False
    return not (low[end - 1].isdigit() and _UNIT_AFTER.match(low, end))


# ---------------------------------------------------------------------------------------------
# The question without its time

_SPACES = re.compile(r"\s+")
_SPACE_BEFORE = re.compile(r" (?=[,.])")
_DANGLING_COMMA = re.compile(r",( ?)(?=[?!;:.])")


def _fold(text: str) -> str:
    """Lowercase with the same length as `text`, so spans found in it index the original."""
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    return low.replace("’", "'")


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    parts: list[str] = []
    pos = 0
    for start, end in spans:
        # The space before the span goes with it: "Bamako last week?" -> "Bamako?".
        while start > pos and text[start - 1].isspace():
            start -= 1
        parts.append(text[pos:start])
        pos = end
    parts.append(text[pos:])
    out = _SPACES.sub(" ", "".join(parts))
    out = _DANGLING_COMMA.sub(r"\1", _SPACE_BEFORE.sub("", out)).strip(" ,")
    return out if any(c.isalpha() for c in out) else text


# ---------------------------------------------------------------------------------------------
# Finding the expressions


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _keyword_hits(low: str) -> dict[str, list[int]]:
    """Where each kind of keyword starts in the folded question."""
    hits: dict[str, list[int]] = {}
    # Listing the words first is quicker than visiting each in Python; then the few keywords
    # present are located with str.find.
    for word in _KINDS.keys() & _WORD.findall(low):
        size, pos = len(word), low.find(word)
        while pos >= 0:
            end = pos + size
            if not (pos and _is_word(low[pos - 1]) or end < len(low) and _is_word(low[end])):
                hits.setdefault(_KINDS[word], []).append(pos)
            pos = low.find(word, end)
    years = [m.start() for m in _YEARISH.finditer(low)]
    if years:
        hits["yearnum"] = years
    return hits


def _stretches(needs: frozenset[str], hits: dict[str, list[int]], size: int
               ) -> list[tuple[int, int]]:
    """Disjoint (start, end) ranges of the question around the keywords a rule needs."""
    around = sorted((max(0, pos - _REACH_BEFORE), min(size, pos + _REACH_AFTER))
                    for kind in needs for pos in hits.get(kind, ()))
    merged: list[tuple[int, int]] = []
    for lo, hi in around:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


_Found = tuple[int, int, int, _Bounds]  # start, end, rule index, bounds


def _matches(low: str) -> Iterator[tuple[int, re.Match[str]]]:
    """Every rule's matches in the folded question, with the rule's index."""
    hits = _keyword_hits(low)
    if not hits:
        return
    stretches: dict[frozenset[str], list[tuple[int, int]]] = {}
    for index, rule in enumerate(_RULES):
        if rule.needs not in stretches:
            stretches[rule.needs] = _stretches(rule.needs, hits, len(low))
        for lo, hi in stretches[rule.needs]:
            for m in rule.pattern.finditer(low, lo, hi):
                yield index, m


def _resolved(low: str, today: date) -> list[_Found]:
    found: list[_Found] = []
    for index, m in _matches(low):
        rule = _RULES[index]
        start, end = m.span()
        if not _plausible(rule, low, start, end):
            continue
        try:
            bounds = rule.resolve(m, today)
        except (ValueError, OverflowError):  # 31 February, a year before 1
            continue
        if bounds is None or bounds == (None, None):
            continue
        since, until = bounds
        if since is None or until is None or since <= until:
            found.append((start, end, index, bounds))
    return found


def find_window(question: str, today: date) -> TimedQuestion:
    """The time window a question names, and the question without those words."""
    found = _resolved(_fold(question), today)
    # Longest first: "depuis le 1er mars" beats the "le 1er mars" inside it.
    found.sort(key=lambda f: (f[0] - f[1], f[0], f[2]))
    kept: list[_Found] = []
    for cand in found:
        if all(cand[1] <= k[0] or k[1] <= cand[0] for k in kept):
            kept.append(cand)
    if not kept:
        return TimedQuestion(question, None)
    kept.sort(key=lambda f: f[0])
    window: Window | None = None
    for start, end, _, (since, until) in kept:
        part = Window(since, until, question[start:end])
        window = part if window is None else window.intersect(part)
    return TimedQuestion(_without(question, [(f[0], f[1]) for f in kept]), window)


# ---------------------------------------------------------------------------------------------
# Explicit dates: options and article metadata

_TIME_TAIL = re.compile(
    r"(?:[t ,]\s*|\s+(?:à|at)\s+)\d\d?(?::\d\d|h\d\d)(?::\d\d(?:[.,]\d+)?)?"
    r"\s*(?:z|utc|gmt|[+-]\d\d(?::?\d\d)?)?$")


def _explicit_day(text: str) -> date | None:
    term = _term(_fold(text.strip()))
    if term is None or term.year is None or term.month is None or term.day is None:
        return None
    try:
        return date(term.year, term.month, term.day)
    except ValueError:
        return None


def parse_day(text: str) -> date:
    """A day given on the command line or in a `since:` token; ValueError says what to type."""
    day = _explicit_day(text)
    if day is None:
        raise ValueError(f"not a date: {text!r}; use YYYY-MM-DD, e.g. 2025-07-01")
    return day


def published_day(value: str | None) -> date | None:
    """An article's date metadata as a day, or None when it does not name one day."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    # The date as written, even when a timezone would move it to another day in UTC.
    day = _explicit_day(_TIME_TAIL.sub("", _fold(text)))
    if day is not None:
        return day
    try:
        return parsedate_to_datetime(text).date()
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
