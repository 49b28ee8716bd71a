"""qabot: answers questions about a news corpus with verbatim, cited quotes.

The API the CLI and the bot share::

    from qabot import Qabot, build_index, load_settings

    settings = load_settings()
    build_index(settings)
    answer = Qabot.open(settings).ask("Combien de recrues ?")

Heavy parts (torch, sentence-transformers, FAISS) load on first use, not on import.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# Before torch or FAISS loads its OpenMP (each has its own): by default an OpenMP thread spins
# 300,000 times (milliseconds) after each parallel region, on the core that the question's next
# step (BM25 beside the vector search) needs. 3,000 still spans the gaps between one layer of
# the model and the next. At 3M sentences, a question's p50 over bare embedding, alternated
# runs: 1.59-1.77 -> 1.54-1.57; the embedding itself no slower. GNU OpenMP only (what the
# torch and FAISS wheels bundle), and only when the user chose no spinning of their own
# (GOMP_SPINCOUNT, or OMP_WAIT_POLICY, which GOMP_SPINCOUNT would override).
if "GOMP_SPINCOUNT" not in os.environ and "OMP_WAIT_POLICY" not in os.environ:
    os.environ["GOMP_SPINCOUNT"] = "3000"

from qabot.config import Settings, load_settings
from qabot.errors import QabotError
from qabot.records import Answer, Citation, Document, Passage

if TYPE_CHECKING:
    from qabot.engine import Qabot
    from qabot.index.write import build_index

__all__ = ["Answer", "Citation", "Document", "Passage", "Qabot", "QabotError", "Settings",
           "build_index", "load_settings"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "Qabot":
        from qabot.engine import Qabot

        return Qabot
    if name == "build_index":
        from qabot.index.write import build_index

        return build_index
    raise AttributeError(name)
