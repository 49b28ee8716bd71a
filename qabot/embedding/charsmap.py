"""SentencePiece's `precompiled_charsmap`, compiled from a per-codepoint normalization table.

The `tokenizers` library reads XLM-RoBERTa's normalization only in this form: a u32 byte size,
a darts-clone double-array trie over the UTF-8 bytes of each source codepoint, then the
replacement strings, each ending in NUL, that the trie's values point to. The trie is read
with `index ^= label` steps and no bounds check, so the array is padded to whole blocks of
256 units, as darts-clone's own builder leaves it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

__all__ = ["compile_charsmap"]

_BLOCK = 256
_HAS_LEAF = 1 << 8
_IS_VALUE = 1 << 31
_MAX_OFFSET = 1 << 21  # offsets below this need no extension bit


def compile_charsmap(table: Mapping[int, str]) -> bytes:
    """Compile {codepoint: replacement} into a precompiled charsmap."""
    # Replacement strings, deduplicated; a value is the byte offset of its string.
    blob = bytearray()
    where: dict[str, int] = {}
    keys: list[tuple[bytes, int]] = []
    for cp in sorted(table):
        if cp == 0 or 0xD800 <= cp <= 0xDFFF:
            continue  # NUL ends a lookup; surrogates cannot occur in valid UTF-8
        out = table[cp]
        if out not in where:
            where[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        keys.append((chr(cp).encode("utf-8"), where[out]))

    # The trie, as nested dicts: byte -> child; a key's end holds its value under None.
    root: dict[int | None, object] = {}
    for key, value in keys:
        node = root
        for byte in key:
            node = node.setdefault(byte, {})  # type: ignore[assignment]
        node[None] = value
    return _pack(_double_array(root)) + bytes(blob)


def _double_array(root: dict[int | None, object]) -> list[int]:
    units: list[int] = [0] * _BLOCK
    used = bytearray(_BLOCK)  # 1 where a unit is taken
    used[0] = 1  # the root
    bases: set[int] = set()
    queue: list[tuple[dict[int | None, object], int, int]] = [(root, 0, 0)]  # node, pos, label
    first_free = 1
    for node, pos, label in queue:  # breadth first; the queue grows as it is read
        # A key's end is a child with label 0 holding the value.
        labels = sorted(0 if b is None else b for b in node)
        first_free = _next_free(units, used, first_free)
        slot = first_free
        while True:  # the first free slot for the first label whose base fits every label
            base = slot ^ labels[0]
            if base not in bases and all(base ^ lab and not _taken(used, base ^ lab)
                                         for lab in labels):
                break
            slot = _next_free(units, used, slot + 1)
        bases.add(base)
        offset = pos ^ base
        if offset >= _MAX_OFFSET:
            raise ValueError("normalization table too large for a simple double array")
        units[pos] = label | (_HAS_LEAF if None in node else 0) | (offset << 10)
        for lab in labels:
            _grow(units, used, base ^ lab)
            used[base ^ lab] = 1
        for b, child in node.items():
            if b is None:
                units[base] = _IS_VALUE | int(child)  # type: ignore[call-overload]
            else:
                queue.append((child, base ^ b, b))  # type: ignore[arg-type]
    return units


def _taken(used: bytearray, slot: int) -> bool:
    return slot < len(used) and bool(used[slot])


def _next_free(units: list[int], used: bytearray, start: int) -> int:
    while (found := used.find(0, start)) < 0:
        _grow(units, used, len(used))
    return found


def _grow(units: list[int], used: bytearray, slot: int) -> None:
    while slot >= len(units):
        units.extend([0] * _BLOCK)
        used.extend(bytes(_BLOCK))


def _pack(units: list[int]) -> bytes:
    return struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units)
