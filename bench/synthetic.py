"""A synthetic French news archive of any size, with vectors that behave like real ones.

Scale benchmarks need millions of sentences; PIAF dev (French Wikipedia, SQuAD format) has
about 1,500, and embedding millions with the real model would take days on a laptop CPU. So:

- `write_corpus` writes `.jsonl` articles whose sentences are PIAF sentences, each mutated
  (about a quarter of its words replaced by PIAF words, numbers redrawn), so that no sentence
  repeats verbatim: BM25 and near-duplicate grouping see text with a realistic vocabulary and
  no accidental copies. Each article tells mostly one PIAF article's story, as a news article
  keeps to one topic, so questions have a right neighbourhood to find.
- `SyntheticEmbedder` gives each written sentence the real vector of the PIAF sentence it came
  from plus deterministic noise; PIAF questions are embedded for real. Approximate
  nearest-neighbour indexes then meet the clustered, anisotropic geometry of real embeddings,
  which uniform noise would not have.

    python bench/synthetic.py --sentences 20000 --out /tmp/synth

writes a corpus and prints one JSON line of checks (see `main`). PIAF is read from
`/work/shared/data/piaf/piaf-dev.json` (or `--piaf`); it is never copied into the project.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import re
import time
import unicodedata
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qabot.embedding.encoder import Embedder
from qabot.ingest.sentences import split_sentences

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["DEFAULT_CACHE", "DEFAULT_PIAF", "Corpus", "Piaf", "SyntheticEmbedder",
           "base_vectors", "load_piaf", "measure_mutations", "own_article_share",
           "question_vectors", "text_hashes", "validate", "write_corpus"]

DEFAULT_PIAF = Path(__file__).resolve().parents[2] / "shared" / "data" / "piaf" / "piaf-dev.json"
DEFAULT_CACHE = Path("~/.cache/qabot/bench")

#: Share of a sentence's words replaced. Two mutations of one PIAF sentence then share a
#: 5-word run only where ten word draws all missed it (0.75 ** 10, about 6 %), far below the
#: 0.5 shingle overlap from which the indexer calls two articles one story.
MUTATION_RATE = 0.25
#: At least this many words replaced, and bases with fewer replaceable words are not used:
#: a short sentence with one or two replacements would come out verbatim twice in millions.
MIN_REPLACED = 3
#: Longer bases could cross the splitter's 600-character cut once mutated.
MAX_BASE_CHARS = 500
#: Sentences per article, and how many come from other PIAF articles than its own.
ARTICLE_SENTENCES = (15, 45)
FOREIGN_SENTENCES = (1, 4)
#: Sentences per paragraph, drawn from this list (mostly 2 to 4, as in news copy).
PARAGRAPH_SIZES = (1, 2, 2, 3, 3, 3, 4, 4, 5)
FIRST_DAY, LAST_DAY = date(2021, 1, 1), date(2025, 12, 31)
#: Fictional outlets; the hosts are under `.example` (RFC 2606), so no URL names a real site.
OUTLETS = (
    ("Le Courrier du Matin", "courrier-du-matin"), ("La Gazette de l'Ouest", "gazette-ouest"),
    ("L'Écho des Régions", "echo-des-regions"), ("Le Journal du Soir", "journal-du-soir"),
    ("La Dépêche Continentale", "depeche-continentale"), ("Le Veilleur", "le-veilleur"),
    ("Info Rhône-Saône", "info-rhone-saone"), ("Le Progrès Alpin", "progres-alpin"),
    ("La Tribune Atlantique", "tribune-atlantique"), ("Le Moniteur Provençal", "moniteur-provencal"),
    ("Nord Actualités", "nord-actualites"), ("La Voix des Marches", "voix-des-marches"),
    ("Le Messager Breton", "messager-breton"), ("Capitale Infos", "capitale-infos"),
    ("L'Observateur du Centre", "observateur-du-centre"), ("Le Républicain des Landes",
                                                            "republicain-des-landes"),
    ("Horizons Quotidien", "horizons-quotidien"), ("La Lettre Savoyarde", "lettre-savoyarde"),
    ("Le Phare Normand", "phare-normand"), ("Méridien Presse", "meridien-presse"),
)
# A few outlets publish most articles, as in a real archive (Zipf-like shares).
_OUTLET_WEIGHTS = tuple(1 / (rank + 1) ** 0.8 for rank in range(len(OUTLETS)))

# The noise model: what multilingual-e5-small does to a sentence `_Recipe.mutate` rewrote,
# fitted on 3,000 sentences of a synthetic corpus embedded for real (passage prompt) and
# checked on 300 bases mutated twice, twice (`measure_mutations`; the ranges below span the
# runs). With it, the same 3,000 sentences embedded for real and synthetically give questions
# the same best cosine within 0.01 and the same share of neighbours from their own article
# within 0.015 (`--validate`).
#: Mean cosine of a mutation to its base: 0.936 to 0.943 measured (p10 0.91, p90 0.97).
COSINE = 0.94
#: Reworded text is blander: its vector moves this share of the way from its base to the
#: centroid of its PIAF article's sentences (0.367 to 0.375 measured)...
ARTICLE_SHRINK = 0.375
#: ...and that centroid this share of the way to the mean of all (0.26 to 0.27); together they
#: explain a fifth of the deviation, and keep copies of one story as close as measured...
CENTROID_SHRINK = 0.27
#: ...and a little closer to the axis all e5 vectors lie near (+0.0055 +- 0.008 measured).
AXIS_SHIFT = 0.0055
#: The rest is noise, this share of its energy shaped like the base vectors' covariance, the
#: rest isotropic: least squares over principal components (0.33 to 0.35: real noise puts 9 %
#: of its energy on the top 10 components, 47 % on the top 100; the data 22 % and 68 %,
#: isotropic noise 2.6 % and 26 %).
DATA_SHAPED = 0.35
#: Correlation of the noise of two mutations of one base (0.14 to 0.18 measured): copies of
#: one base are then 0.92 apart, as measured (0.913 to 0.917).
SHARED = 0.15

#: A replacement pool needs this many distinct words, or a wider one is used: with fewer,
#: short sentences repeat verbatim (8 gave ~10,000 repeats in 3 million sentences, 64 about
#: ten, which `write_corpus` then redraws).
_MIN_POOL = 64

_TOKEN = re.compile(r"(\w+)")
# A word next to one of these may decide a sentence boundary ("M. Dupont", "etc. Le"): kept.
_STOPS = frozenset(".!?…")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


# ---------------------------------------------------------------------------------------------
# PIAF


@dataclass(frozen=True)
class Piaf:
    """PIAF's sentences as `split_sentences` cuts them, and its questions.

    `article[i]` is the PIAF article (index into `titles`) of `sentences[i]`; a base id is an
    index into `sentences`. `question_article[j]` is the article of `questions[j]`."""

    path: Path
    sentences: list[str]
    article: np.ndarray  # int32, one per sentence
    titles: list[str]
    questions: list[str]
    question_article: np.ndarray  # int32, one per question


def load_piaf(path: Path = DEFAULT_PIAF) -> Piaf:
    """Read a SQuAD-format file: every paragraph split into sentences, every question."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    sentences: list[str] = []
    article: list[int] = []
    titles: list[str] = []
    questions: list[str] = []
    question_article: list[int] = []
    for a, item in enumerate(data):
        titles.append(str(item["title"]).replace("_", " "))
        for paragraph in item["paragraphs"]:
            context = paragraph["context"]
            for s in split_sentences(context):
                sentences.append(context[s.start:s.end])
                article.append(a)
            for qa in paragraph.get("qas", ()):
                questions.append(qa["question"])
                question_article.append(a)
    return Piaf(Path(path), sentences, np.asarray(article, dtype=np.int32), titles, questions,
                np.asarray(question_article, dtype=np.int32))


def base_vectors(piaf: Piaf, embedder: Embedder, cache_dir: Path = DEFAULT_CACHE) -> np.ndarray:
    """The real passage vectors of PIAF's sentences (float32, normalized), cached on disk."""
    return _cached_encode("passages", piaf.sentences, embedder, embedder.passage_prompt,
                          embedder.encode_passages, cache_dir)


def question_vectors(piaf: Piaf, embedder: Embedder,
                     cache_dir: Path = DEFAULT_CACHE) -> np.ndarray:
    """The real query vectors of PIAF's questions, cached like `base_vectors`."""
    return _cached_encode("queries", piaf.questions, embedder, embedder.query_prompt,
                          embedder.encode_queries, cache_dir)


def _cached_encode(kind: str, texts: Sequence[str], embedder: Embedder, prompt: str,
                   encode: Any, cache_dir: Path) -> np.ndarray:
    # The prompt is part of the key: e5 gives other vectors with another prefix.
    key = hashlib.sha256("\0".join([kind, embedder.name, prompt, *texts]).encode()).hexdigest()
    path = Path(cache_dir).expanduser() / f"piaf-{kind}-{key[:20]}.npy"
    if path.exists():
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape[0] == len(texts):
            return vectors
    vectors = np.ascontiguousarray(encode(list(texts)), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then renamed: an interrupted run leaves no truncated cache behind.
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npy")
    np.save(partial, vectors, allow_pickle=False)
    partial.replace(path)
    return vectors


# ---------------------------------------------------------------------------------------------
# Hashing: the key from a sentence's exact text to its base


def _hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


def text_hashes(texts: Iterable[str]) -> np.ndarray:
    """64-bit keys of exact texts (blake2b, little-endian), as uint64: stable across runs and
    processes, unlike `hash()`."""
    raw = b"".join(_hash(t) for t in texts)
    return np.frombuffer(raw, dtype="<u8").astype(np.uint64)


# ---------------------------------------------------------------------------------------------
# The recipe: mutated sentences and articles


class _Base:
    """One usable PIAF sentence, cut into alternating separators and words (`parts[1::2]` are
    words), with the word positions a mutation may change."""

    __slots__ = ("article", "digits", "id", "lower", "parts", "pools", "upper", "words")

    def __init__(self, base_id: int, article: int, text: str) -> None:
        self.id = base_id
        self.article = article
        self.parts = _TOKEN.split(text)
        self.words = len(self.parts) // 2
        self.lower: list[int] = []
        self.upper: list[int] = []
        self.digits: list[int] = []
        # Per replaceable position: (words of the base's article, words of all PIAF).
        self.pools: dict[int, tuple[list[str], list[str]]] = {}
        for i in range(1, len(self.parts), 2):
            word = self.parts[i]
            if word.isdigit():
                self.digits.append(i)  # digits stay digits: no boundary can move
                continue
            if i == 1 or len(word) < 3 or not word.isalpha():
                continue  # the first word decides the boundary; short words are grammar
            if _STOPS.intersection(self.parts[i - 1]) or _STOPS.intersection(self.parts[i + 1]):
                continue
            if self.parts[i - 1].endswith(("'", "’")):
                continue  # "l'Europe" must not become "l'Macron"
            if word.islower():
                self.lower.append(i)
            elif word[0].isupper() and word[1:].islower():
                self.upper.append(i)

    @property
    def replaceable(self) -> int:
        return len(self.lower) + len(self.upper)


class _Recipe:
    """Turns (seed, article number) into one article, deterministically."""

    def __init__(self, piaf: Piaf, seed: int) -> None:
        self.piaf = piaf
        self.seed = seed
        self.bases: list[_Base] = []
        for i, text in enumerate(piaf.sentences):
            if len(text) <= MAX_BASE_CHARS and _balanced(text) and _splits_alone(text):
                base = _Base(i, int(piaf.article[i]), text)
                if base.replaceable >= MIN_REPLACED:
                    self.bases.append(base)
        if not self.bases:
            raise ValueError(f"no usable sentence in {piaf.path}")
        self.by_article: dict[int, list[_Base]] = {}
        for base in self.bases:
            self.by_article.setdefault(base.article, []).append(base)
        # Replacement words: half the time (per sentence) from the base's own article, so
        # that a topic's words keep co-occurring, else from all of PIAF with the same ending
        # (a crude part of speech: "-ion" for "-ion", "-ent" for "-ent"); capitalized names
        # for names. Drawn uniformly among distinct words, not by frequency: frequent words
        # ("les", "des") would make short sentences come out verbatim twice in millions.
        words: dict[tuple[object, ...], set[str]] = {}
        for b in self.bases:
            for i in b.lower:
                word = b.parts[i]
                for key in (("lower",), ("lower", word[-2:]), ("lower", b.article)):
                    words.setdefault(key, set()).add(word)
            for i in b.upper:
                for key in (("upper",), ("upper", b.article)):
                    words.setdefault(key, set()).add(b.parts[i])
        pools = {k: sorted(v) for k, v in words.items()}  # sorted: sets' order varies by run

        def pool(*keys: tuple[object, ...]) -> list[str]:
            """The first pool with enough distinct words, else the last (all words)."""
            return next((pools[k] for k in keys[:-1] if len(pools.get(k, ())) >= _MIN_POOL),
                        pools[keys[-1]])

        for b in self.bases:
            for i in b.lower:
                end = b.parts[i][-2:]
                b.pools[i] = (pool(("lower", b.article), ("lower", end), ("lower",)),
                              pool(("lower", end), ("lower",)))
            for i in b.upper:
                b.pools[i] = (pool(("upper", b.article), ("upper",)), pool(("upper",)))
        self.span = (LAST_DAY - FIRST_DAY).days + 1

    def mutate(self, base: _Base, rng: random.Random) -> str:
        """The base with about `MUTATION_RATE` of its words replaced and its numbers redrawn;
        punctuation and the first and last words stay, so it still splits as one sentence."""
        parts = base.parts.copy()
        rand = rng.random
        for i in base.digits:
            word = parts[i]
            n = len(word)
            if n == 4 and (word[0] == "1" or word[:2] == "20"):
                parts[i] = str(1000 + int(rand() * 1031))  # a year stays a plausible year
            elif n == 1:
                parts[i] = str(int(rand() * 10))
            else:
                low = 10 ** (n - 1)
                parts[i] = str(low + int(rand() * 9 * low))
        slots = base.lower + base.upper
        want = max(MIN_REPLACED, round(MUTATION_RATE * base.words))
        chosen = rng.sample(slots, want) if want < len(slots) else slots
        side = 0 if rand() < 0.5 else 1  # 0: the article's own words, 1: all of PIAF's
        pools = base.pools
        for i in chosen:
            pool = pools[i][side]
            parts[i] = pool[int(rand() * len(pool))]
        return "".join(parts)

    def article(self, number: int, salt: int = 0) -> tuple[dict[str, str], list[str], list[int]]:
        """Article `number`: its JSON object, its sentences as written, their base ids.

        Another `salt` redraws only the mutations: same bases, paragraphs, date and outlet."""
        # String seeds: hashed with SHA-512, the same in every Python version and process.
        rng = random.Random(f"{self.seed}:{number}")
        rand = rng.random
        # A random usable sentence's article: stories are picked in proportion to their size,
        # so every base is used about equally often.
        own = self.bases[int(rand() * len(self.bases))].article
        pool = self.by_article[own]
        total = rng.randint(*ARTICLE_SENTENCES)
        foreign = rng.randint(*FOREIGN_SENTENCES)
        # A run of the story in its own order (twice round at most for a short one): news
        # copy follows one thread.
        mine = min(total - foreign, 2 * len(pool))
        start = int(rand() * len(pool))
        picked = [pool[(start + k) % len(pool)] for k in range(mine)]
        for _ in range(max(foreign, ARTICLE_SENTENCES[0] - mine)):
            # Never first: the lead sentence states the article's topic.
            at = 1 + int(rand() * len(picked))
            picked.insert(at, self.bases[int(rand() * len(self.bases))])
        cuts = [0]
        while cuts[-1] < len(picked):
            cuts.append(cuts[-1] + PARAGRAPH_SIZES[int(rand() * len(PARAGRAPH_SIZES))])
        day = date.fromordinal(FIRST_DAY.toordinal() + int(rand() * self.span))
        outlet, host = rng.choices(OUTLETS, weights=_OUTLET_WEIGHTS)[0]
        mutations = random.Random(f"{self.seed}:{number}:{salt}")
        sentences = [self.mutate(b, mutations) for b in picked]
        paragraphs = [" ".join(sentences[a:b]) for a, b in itertools.pairwise(cuts)]
        lead = sentences[0].split()
        title = f"{self.piaf.titles[own]} : {' '.join(lead[:9]).rstrip(',;:')}"
        slug = _NOT_SLUG.sub("-", _ascii(title).lower()).strip("-")[:60].rstrip("-")
        doc = {
            "id": f"synth-{number:08d}",
            "title": title,
            "text": "\n\n".join(paragraphs),
            "date": day.isoformat(),
            "source": outlet,
            "url": f"https://www.{host}.example/{day:%Y/%m/%d}/{slug}-{number}.html",
            "lang": "fr",
        }
        return doc, sentences, [b.id for b in picked]


def _splits_alone(text: str) -> bool:
    """Whether `text` comes back as one sentence between two ordinary ones. The neighbours open
    with a capitalized word that is no function word, so a base ending in an abbreviation or
    an initial ("etc.", "Jr.") fails, as would a base opening in lowercase."""
    prefix, suffix = "Paris est grand. ", " Paris est grand."
    whole = prefix + text + suffix
    cut = split_sentences(whole)
    return (len(cut) == 3 and cut[1].start == len(prefix)
            and cut[1].end == len(prefix) + len(text))


def _balanced(text: str) -> bool:
    """Whether the quotes pair up. The splitter ignores quotes whose count is uneven in a
    paragraph: one unpaired « would let it cut a neighbour's quotation into pieces."""
    return (text.count("«") == text.count("»") and text.count("“") == text.count("”")
            and text.count('"') % 2 == 0)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


# ---------------------------------------------------------------------------------------------
# The corpus


@dataclass
class Corpus:
    """A written synthetic archive and the key from each sentence's text to its base.

    `keys` (sorted uint64, see `text_hashes`) and `bases` (int32 base ids, index into
    `piaf.sentences`) are parallel: 12 bytes a sentence. `duplicates` counts sentences whose
    exact text was written before: 0 unless redrawing failed (see `_redraw_repeats`)."""

    folder: Path
    piaf: Piaf
    seed: int
    articles: int
    sentences: int
    keys: np.ndarray
    bases: np.ndarray
    files: list[Path]
    duplicates: int = 0
    #: Articles whose mutations were redrawn to avoid a repeat, with their `salt`.
    redrawn: dict[int, int] = field(default_factory=dict)
    _recipe: _Recipe | None = field(default=None, repr=False)
    # Sentences of `extra_article`s: a handful, so a dict is fine here.
    _extra: dict[int, int] = field(default_factory=dict, repr=False)

    @property
    def recipe(self) -> _Recipe:
        if self._recipe is None:
            self._recipe = _Recipe(self.piaf, self.seed)
        return self._recipe

    def extra_article(self, i: int = 0) -> dict[str, str]:
        """A new article (the `i`-th after the archive), same recipe, not written anywhere; its
        sentences are known to `base_of` from now on."""
        doc, sentences, bases = self.recipe.article(self.articles + i)
        for key, base in zip(text_hashes(sentences).tolist(), bases, strict=True):
            self._extra[key] = base
        return doc

    def base_of(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's base id (int32), or -1 for a text the archive does not hold."""
        return self.bases_of_keys(text_hashes(texts))

    def bases_of_keys(self, keys: np.ndarray) -> np.ndarray:
        out = np.full(len(keys), -1, dtype=np.int32)
        if len(self.keys):
            at = np.searchsorted(self.keys, keys)
            at[at == len(self.keys)] = 0
            found = self.keys[at] == keys
            out[found] = self.bases[at[found]]
        if self._extra:
            for j in np.flatnonzero(out < 0).tolist():
                out[j] = self._extra.get(int(keys[j]), -1)
        return out


def write_corpus(folder: Path, piaf: Piaf, n_sentences: int, seed: int = 0, *,
                 per_file: int = 1000) -> Corpus:
    """Write articles as `.jsonl` files of `per_file` articles into `folder` until they hold
    at least `n_sentences` sentences (the last article may pass it by up to 44).

    Deterministic for given arguments. Files already in `folder` named `synthetic-*.jsonl`
    are replaced; others are left alone."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("synthetic-*.jsonl"):
        old.unlink()
    recipe = _Recipe(piaf, seed)
    # Compact buffers, 12 bytes a sentence (a dict of millions of entries takes ~100), and
    # where each article's sentences start, to find an article from a sentence.
    keys = bytearray()
    bases = array("i")
    starts = array("q")
    files: list[Path] = []
    written = number = 0
    while written < n_sentences:
        path = folder / f"synthetic-{len(files):05d}.jsonl"
        files.append(path)
        lines: list[str] = []
        for _ in range(per_file):
            doc, sentences, ids = recipe.article(number)
            number += 1
            lines.append(json.dumps(doc, ensure_ascii=False))
            starts.append(written)
            keys += b"".join(_hash(s) for s in sentences)
            bases.extend(ids)
            written += len(sentences)
            if written >= n_sentences:
                break
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    key_array = np.frombuffer(keys, dtype="<u8").astype(np.uint64)
    order, redrawn = _redraw_repeats(recipe, key_array, np.frombuffer(starts, dtype=np.int64),
                                     files, per_file)
    key_array = key_array[order]
    base_array = np.frombuffer(bases, dtype=np.int32)[order].copy()
    duplicates = int(np.count_nonzero(key_array[1:] == key_array[:-1]))
    return Corpus(folder=folder, piaf=piaf, seed=seed, articles=number, sentences=written,
                  keys=key_array, bases=base_array, files=files, duplicates=duplicates,
                  redrawn=redrawn, _recipe=recipe)


def _redraw_repeats(recipe: _Recipe, keys: np.ndarray, starts: np.ndarray, files: list[Path],
                    per_file: int) -> tuple[np.ndarray, dict[int, int]]:
    """Redraw the mutations of articles holding a sentence written before (a few in millions:
    a short sentence drawn twice alike), updating `keys` and their files in place, until no
    text repeats. Returns the order that sorts `keys`, and each redrawn article's salt."""
    salts: dict[int, int] = {}
    for _ in range(8):  # one round nearly always does; a bound, in case it never could
        order = np.argsort(keys, kind="stable")
        ranked = keys[order]
        repeats = order[1:][ranked[1:] == ranked[:-1]]  # stable: the later of each pair
        if not len(repeats):
            return order, salts
        numbers = sorted(set((np.searchsorted(starts, repeats, side="right") - 1).tolist()))
        by_file: dict[int, list[int]] = {}
        for n in numbers:
            by_file.setdefault(n // per_file, []).append(n)
        for f, group in by_file.items():
            lines = files[f].read_text(encoding="utf-8").split("\n")
            for n in group:
                salts[n] = salts.get(n, 0) + 1
                doc, sentences, _ = recipe.article(n, salts[n])
                lines[n % per_file] = json.dumps(doc, ensure_ascii=False)
                keys[starts[n]:starts[n] + len(sentences)] = text_hashes(sentences)
            files[f].write_text("\n".join(lines), encoding="utf-8")
    return np.argsort(keys, kind="stable"), salts


# ---------------------------------------------------------------------------------------------
# Vectors


class SyntheticEmbedder(Embedder):
    """Passages of a synthetic corpus embedded as their base's real vector plus noise;
    questions (and texts named in `real_texts`) embedded by the real model.

    A passage's vector is its base's real vector moved as the real model moves a reworded
    sentence (`ARTICLE_SHRINK`, `CENTROID_SHRINK`, `AXIS_SHIFT`), plus Gaussian noise seeded by the text's hash, so the
    same text always gets the same vector (incremental updates reuse them). The noise is
    partly along the directions in which real sentences differ, which ANN indexes (IVF cells,
    PQ codebooks, HNSW graphs) are fitted to (`DATA_SHAPED`), partly shared by all copies of
    one base (`SHARED`), and scaled so that the cosine to the base is `cosine` on average.
    Texts the corpus does not hold get a base chosen by their hash.

    By default `real_texts` are the abstention calibration's anchors (qabot/data/
    calibration.txt): the indexer embeds them as passages, and garbage there would skew the
    index's null gap, hence which answers the bench's runs abstain on."""

    def __init__(self, real: Embedder, corpus: Corpus, base: np.ndarray, *,
                 cosine: float = COSINE, real_texts: Iterable[str] | None = None) -> None:
        super().__init__(real.name, cache_dir=real.cache_dir, device=real.device,
                         query_prompt=real.query_prompt, passage_prompt=real.passage_prompt,
                         batch_size=real.batch_size)
        if base.shape[0] != len(corpus.piaf.sentences):
            raise ValueError(f"{base.shape[0]} base vectors for "
                             f"{len(corpus.piaf.sentences)} PIAF sentences")
        self.real = real
        self.corpus = corpus
        self.base = np.ascontiguousarray(base, dtype=np.float32)
        self.cosine = cosine
        if real_texts is None:
            from qabot.search.abstain import reference_texts

            real_texts = reference_texts()[0]
        self._real_texts = frozenset(real_texts)
        self._real_cache: dict[str, np.ndarray] = {}
        self._axis, self._along, self._centres, self._own_shape = _noise_model(
            self.base, corpus.piaf.article, cosine)
        # Fallback bases for unknown texts: only those the recipe uses, as for known ones.
        self._usable = np.asarray([b.id for b in corpus.recipe.bases], dtype=np.int64)

    @property
    def model(self) -> SentenceTransformer:
        return self.real.model

    @property
    def dimension(self) -> int:
        return int(self.base.shape[1])

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = text_hashes(texts)
        bases = self.corpus.bases_of_keys(keys).astype(np.int64)
        unknown = bases < 0
        if unknown.any():
            bases[unknown] = self._usable[keys[unknown] % np.uint64(len(self._usable))]
        own = _gaussian(keys, self.dimension) @ self._own_shape
        vectors = _on_cone(self._centres[bases] + own, self._along[bases], self._axis)
        vectors = vectors.astype(np.float32)
        real = [j for j in np.flatnonzero(unknown).tolist() if texts[j] in self._real_texts]
        if real:
            todo = [texts[j] for j in real if texts[j] not in self._real_cache]
            if todo:
                for text, vector in zip(todo, self.real.encode_passages(todo), strict=True):
                    self._real_cache[text] = vector
            for j in real:
                vectors[j] = self._real_cache[texts[j]]
        return vectors

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.real.encode_queries(texts)

    def encode_query(self, text: str) -> np.ndarray:
        return self.real.encode_query(text)


def _noise_model(base: np.ndarray, article: np.ndarray, cosine: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(axis, along, centres, own_shape): the unit mean direction; each base's component on it
    after a rewording; each base's centre (shrunk toward its article's centroid, which is
    shrunk toward the mean, plus the base's shared noise); the (d, d) matrix
    turning standard normal rows into a text's own noise. `_on_cone(centres[b] + z @
    own_shape, along[b], axis)` is then a copy of base b."""
    base = base.astype(np.float32)
    mean = base.mean(axis=0)
    axis = mean / np.linalg.norm(mean)
    along = base @ axis + np.float32(AXIS_SHIFT)
    centroid = _centroids(base, article)
    shrunk = (base - np.float32(ARTICLE_SHRINK) * (base - centroid)
              - np.float32(CENTROID_SHRINK) * (centroid - mean))
    centered = base.astype(np.float64) - mean
    values, vectors = np.linalg.eigh(centered.T @ centered)
    values = np.clip(values, 0, None)
    dim = base.shape[1]
    variances = DATA_SHAPED * values / values.sum() + (1 - DATA_SHAPED) / dim
    shape = ((vectors * np.sqrt(variances)) @ vectors.T).astype(np.float32)  # symmetric root
    # The scale, by bisection on a fixed sample: no closed form survives the projection. The
    # shared and the own noise add up to one standard normal draw.
    n = min(len(base), 2048)
    z = _gaussian(np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN, dim) @ shape
    low, high = 0.0, 10.0
    for _ in range(40):
        mid = (low + high) / 2
        v = _on_cone(shrunk[:n] + np.float32(mid) * z, along[:n], axis)
        cos = float(np.mean(np.sum(v * base[:n], axis=1)))
        low, high = (mid, high) if cos > cosine else (low, mid)
    shape *= np.float32((low + high) / 2)
    ids = np.arange(len(base), dtype=np.uint64)
    shared = _gaussian(ids * _GOLDEN + _SHARED_SALT, dim) @ shape
    centres = shrunk + np.float32(np.sqrt(SHARED)) * shared
    return (axis.astype(np.float32), along.astype(np.float32), centres.astype(np.float32),
            (np.float32(np.sqrt(1 - SHARED)) * shape).astype(np.float32))


def _centroids(vectors: np.ndarray, article: np.ndarray) -> np.ndarray:
    """Each row's article centroid: the mean of the rows of its article."""
    sums = np.zeros((int(article.max()) + 1, vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, article, vectors)
    counts = np.bincount(article, minlength=len(sums))[:, None]
    return (sums / np.maximum(counts, 1))[article].astype(np.float32)


def _on_cone(raw: np.ndarray, along: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Unit vectors with `along` as their component on `axis` and the direction of `raw`'s
    other components. e5's vectors all lie near one axis (any two sentences are ~0.8 apart),
    and a reworded sentence stays at its distance from it: measured, its component moves by
    0.006 +- 0.008. Plain `normalize(base + noise)` would pull every vector off the axis and
    all cosines down (question to passage 0.82 where real mutations give 0.85)."""
    orth = raw - np.outer(raw @ axis, axis)
    orth /= np.linalg.norm(orth, axis=1, keepdims=True)
    side = np.sqrt(np.clip(1 - along * along, 0, None))
    return np.outer(along, axis) + side[:, None] * orth


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SHARED_SALT = np.uint64(0x5EED5EED5EED5EED)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _gaussian(keys: np.ndarray, dim: int) -> np.ndarray:
    """Standard normal (len(keys), dim) float32, a pure function of each key: splitmix64 of
    (key, column) gives two 24-bit uniforms, Box-Muller one normal. Vectorized, where one
    seeded Generator per text would cost more than the rest of the embedding."""
    with np.errstate(over="ignore"):
        x = keys.astype(np.uint64)[:, None] + _GOLDEN * np.arange(1, dim + 1, dtype=np.uint64)
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        x ^= x >> np.uint64(31)
    # 24 bits each: exact in float32, and float32 halves the cost of log and cos.
    u1 = ((x >> np.uint64(40)).astype(np.float32) + np.float32(0.5)) * np.float32(2.0 ** -24)
    u2 = ((x >> np.uint64(8)) & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0 ** -24)
    return np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(np.float32(2 * np.pi) * u2)


# ---------------------------------------------------------------------------------------------
# Checks


def measure_mutations(piaf: Piaf, embedder: Embedder, base: np.ndarray, n: int = 300,
                      seed: int = 1) -> dict[str, float]:
    """Embed `n` bases mutated twice with the real model, and fit the noise model's constants
    (`COSINE`, `AXIS_SHIFT`, `ARTICLE_SHRINK`, `CENTROID_SHRINK`, `DATA_SHAPED`, `SHARED`) to
    them: rerun it for another model or another recipe."""
    recipe = _Recipe(piaf, seed)
    rng = random.Random(seed)
    picked = rng.sample(recipe.bases, min(n, len(recipe.bases)))
    ids = [b.id for b in picked]
    first = embedder.encode_passages([recipe.mutate(b, rng) for b in picked])
    second = embedder.encode_passages([recipe.mutate(b, rng) for b in picked])
    own = base[ids]
    mean = base.mean(axis=0)
    axis = mean / np.linalg.norm(mean)

    def across(x: np.ndarray) -> np.ndarray:  # the part off the axis
        return x - np.outer(x @ axis, axis)

    # Least squares of the deviations (off the axis) on the two shrinks.
    centroid = _centroids(base, piaf.article)[ids]
    to_centroid, to_mean = across(own - centroid), across(centroid - mean)
    devs = [across(first - own), across(second - own)]
    x = np.vstack([np.concatenate([to_centroid, to_centroid]).ravel(),
                   np.concatenate([to_mean, to_mean]).ravel()]).T
    shrinks = -np.linalg.lstsq(x, np.concatenate(devs).ravel(), rcond=None)[0]
    rest = [d + shrinks[0] * to_centroid + shrinks[1] * to_mean for d in devs]
    # The rest's energy per principal component of the bases: a mix of theirs and a flat one.
    values, vectors = np.linalg.eigh(np.cov((base - mean).T.astype(np.float64)))
    data = values / values.sum()
    energy = ((rest[0] - rest[0].mean(axis=0)) @ vectors) ** 2
    share = energy.mean(axis=0) / energy.mean(axis=0).sum()
    flat = np.full_like(data, 1 / len(data))
    shaped = float(np.dot(data - flat, share - flat) / np.dot(data - flat, data - flat))
    norms = np.linalg.norm(rest[0], axis=1) * np.linalg.norm(rest[1], axis=1)
    shift = first @ axis - own @ axis
    return {"cosine": float(np.mean(np.sum(first * own, axis=1))),
            "axis_shift": float(shift.mean()),
            "axis_shift_std": float(shift.std()),
            "article_shrink": float(shrinks[0]),
            "centroid_shrink": float(shrinks[1]),
            "data_shaped": shaped,
            "shared": float(np.mean(np.sum(rest[0] * rest[1], axis=1) / norms)),
            "copies_cosine": float(np.mean(np.sum(first * second, axis=1)))}


def own_article_share(questions: np.ndarray, vectors: np.ndarray, article: np.ndarray,
                      question_article: np.ndarray, k: int = 10) -> float:
    """Mean share of each question's top-`k` vectors (brute force) from its own article."""
    shares = []
    for at in range(0, len(questions), 256):
        sims = questions[at:at + 256] @ vectors.T
        top = np.argpartition(-sims, k, axis=1)[:, :k]
        shares.append(article[top] == question_article[at:at + 256, None])
    return float(np.concatenate(shares).mean())


def validate(texts: Sequence[str], vectors: np.ndarray, found: np.ndarray, piaf: Piaf,
             real: Embedder, base: np.ndarray, questions: np.ndarray) -> dict[str, Any]:
    """The same sentences embedded for real and synthetically, side by side: how close to
    their base, how close the questions get (abstention reads that scale), how topical their
    neighbourhoods are."""
    known = found >= 0
    texts = [t for t, k in zip(texts, known, strict=True) if k]
    found = found[known]
    article = piaf.article[found]
    pairs = np.random.default_rng(0).integers(0, len(texts), (5000, 2))
    out: dict[str, Any] = {"sentences": len(texts)}
    for name, x in (("real", real.encode_passages(texts)), ("synthetic", vectors[known])):
        sims = questions @ x.T
        out[name] = {
            "cosine_to_base": round(float(np.mean(np.sum(x * base[found], axis=1))), 4),
            "random_pair_cosine": round(float(np.mean(np.sum(
                x[pairs[:, 0]] * x[pairs[:, 1]], axis=1))), 4),
            "question_best_cosine": round(float(sims.max(axis=1).mean()), 4),
            "own_article_top10": round(own_article_share(
                questions, x, article, piaf.question_article), 4),
            "own_article_top1": round(own_article_share(
                questions, x, article, piaf.question_article, k=1), 4),
        }
    return out


def main(argv: Sequence[str] | None = None) -> None:
    from qabot.config import load_settings
    from qabot.embedding.encoder import embedder_for
    from qabot.ingest.load import load_corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sentences", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("/tmp/synth"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--piaf", type=Path, default=DEFAULT_PIAF)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--measure", type=int, default=0, metavar="N",
                        help="also embed N bases mutated twice with the real model and print "
                             "the noise model's statistics")
    parser.add_argument("--validate", type=int, default=0, metavar="N",
                        help="also embed the first N written sentences with the real model "
                             "and compare their neighbourhoods with the synthetic vectors'")
    args = parser.parse_args(argv)
    os.environ.setdefault("QABOT_MODEL_CACHE", str(Path("~/.cache/qabot/models").expanduser()))

    piaf = load_piaf(args.piaf)
    started = time.perf_counter()
    corpus = write_corpus(args.out, piaf, args.sentences, args.seed)
    write_s = time.perf_counter() - started

    # What the indexer will see: the loader's documents, split by the indexer's splitter.
    texts = [d.text[s.start:s.end] for d in load_corpus(args.out).documents
             for s in split_sentences(d.text)]
    found = corpus.base_of(texts)
    real = embedder_for(load_settings())
    base = base_vectors(piaf, real, args.cache_dir)
    questions = question_vectors(piaf, real, args.cache_dir)
    embedder = SyntheticEmbedder(real, corpus, base)
    started = time.perf_counter()
    vectors = np.vstack([embedder.encode_passages(texts[i:i + 256])
                         for i in range(0, len(texts), 256)])
    embed_s = time.perf_counter() - started
    known = found >= 0
    cosines = np.sum(vectors[known] * base[found[known]], axis=1)
    article_of = np.where(known, piaf.article[np.maximum(found, 0)], -1)
    report: dict[str, Any] = {
        "articles": corpus.articles,
        "sentences": corpus.sentences,
        "files": len(corpus.files),
        "write_s": round(write_s, 2),
        "write_s_per_million": round(write_s / corpus.sentences * 1e6, 1),
        "split_sentences": len(texts),
        "split_match": round(float(known.sum()) / corpus.sentences, 5),
        "duplicates": corpus.duplicates,
        "redrawn_articles": len(corpus.redrawn),
        "bases_used": len(corpus.recipe.bases),
        "embed_s_per_million": round(embed_s / len(texts) * 1e6, 1),
        "mean_cosine_to_base": round(float(cosines.mean()), 4),
        "own_article_top10": round(own_article_share(
            questions, vectors, article_of, piaf.question_article), 4),
        # The same among PIAF's own sentences, each present once (here each base has many
        # copies, so the top 10 are copies of the best few bases: compare with the top 1).
        "own_article_top10_real": round(own_article_share(
            questions, base, piaf.article, piaf.question_article), 4),
        "own_article_top1_real": round(own_article_share(
            questions, base, piaf.article, piaf.question_article, k=1), 4),
        "lookup_bytes_per_sentence": corpus.keys.itemsize + corpus.bases.itemsize,
    }
    if args.validate:
        report["validation"] = validate(texts[:args.validate], vectors[:args.validate],
                                        found[:args.validate], piaf, real, base, questions)
    if args.measure:
        report["measured"] = {k: round(v, 4) for k, v in
                              measure_mutations(piaf, real, base, args.measure).items()}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
