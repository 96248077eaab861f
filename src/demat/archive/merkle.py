"""Vitam's canonical JSON and SHA-512 Merkle tree, exactly. Pure.

* :func:`canonical_json`: Vitam's ``CanonicalJsonFormatter`` — keys sorted, no spaces, printable
  ASCII (32–127) kept, ``" \\ \\b \\f \\n \\r \\t`` escaped simply, every other character as a
  lowercase ``\\uXXXX`` (UTF-16 units, so surrogate pairs above U+FFFF). Python's ``json`` with
  ``ensure_ascii`` writes the same bytes; floats are refused (Java and Python print them
  differently, and a ledger has no need of them).
* :class:`MerkleRoot` / :func:`merkle_root`: Vitam's ``MerkleTreeAlgo`` — each leaf is
  SHA-512 of its bytes; when the count is not a power of two, *empty* leaves (zero bytes, not the
  hash of nothing) pad it to the next one; a parent is SHA-512(left ‖ right), so a parent over
  (x, padding) is SHA-512(x) and one over two paddings SHA-512(b""); one leaf is its own root, no
  leaf no tree. Computed streaming, in memory proportional to the tree's height (a million
  leaves need no list of a million digests); :func:`merkle_levels` builds the whole tree as Vitam
  does, for the golden tests and for audit paths (:func:`audit_path`, :func:`root_from_path`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any, Literal


def _no_floats(value: Any) -> None:
    if isinstance(value, float):
        raise ValueError("floats are not allowed in canonical JSON (use integers or strings)")
    if isinstance(value, dict):
        for v in value.values():
            _no_floats(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _no_floats(v)


_DEL = re.compile(r"(?<!\\)((?:\\\\)*)\\u007f")


def canonical_json(value: Any) -> bytes:
    """``value`` in Vitam's canonical JSON (see the module docstring)."""
    _no_floats(value)
    return dumps_canonical(value)


def refuse_float(text: str) -> float:
    """``parse_float`` hook of :func:`json.loads` refusing floats (see :func:`canonical_json`)."""
    raise ValueError(f"float {text} in canonical JSON")


def dumps_canonical(value: Any) -> bytes:
    """:func:`canonical_json` for a value known to hold no float (read with
    :func:`refuse_float`): the same bytes, without walking it first."""
    text = json.dumps(value, ensure_ascii=True, sort_keys=True, separators=(",", ":"), allow_nan=False)
    if "\\u007f" in text:  # Python escapes DEL, Vitam keeps it (an even run of backslashes before)
        text = _DEL.sub(lambda m: m.group(1) + "\x7f", text)
    return text.encode("ascii")


def _h(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


_PAD: list[bytes] = [b""]


def _pad(level: int) -> bytes:
    """Root of a subtree of ``2**level`` empty leaves."""
    while len(_PAD) <= level:
        _PAD.append(_h(_PAD[-1] + _PAD[-1]))
    return _PAD[level]


class MerkleRoot:
    """Streaming Merkle root: :meth:`add` each leaf's bytes (or :meth:`add_digest` its
    SHA-512), then :meth:`root`."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []
        self.count = 0

    def add(self, data: bytes) -> None:
        """Add a leaf whose value is SHA-512(``data``)."""
        self.add_digest(_h(data))

    def add_digest(self, digest: bytes) -> None:
        """Add a leaf by its value."""
        self.count += 1
        level, node = 0, digest
        stack = self._stack
        while stack and stack[-1][0] == level:
            _, left = stack.pop()
            node = _h(left + node)
            level += 1
        stack.append((level, node))

    def root(self) -> bytes | None:
        """The root (``None`` without leaves); the tree is padded as Vitam pads it."""
        if not self._stack:
            return None
        stack = list(self._stack)
        while len(stack) > 1:
            level, node = stack.pop()
            # The right sibling of the last node is a subtree of padding of the same height.
            node = _h(node + _pad(level))
            level += 1
            while stack and stack[-1][0] == level:
                _, left = stack.pop()
                node = _h(left + node)
                level += 1
            stack.append((level, node))
        return stack[0][1]


def merkle_root(leaves: Iterable[bytes]) -> bytes | None:
    """Root of the tree over ``leaves`` (each leaf's bytes, hashed here)."""
    tree = MerkleRoot()
    for leaf in leaves:
        tree.add(leaf)
    return tree.root()


def merkle_levels(leaves: Iterable[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves (their SHA-512, then the padding) first, root last,
    computed as Vitam's ``MerkleTreeAlgo.generateMerkle`` does."""
    level = [_h(leaf) for leaf in leaves]
    if not level:
        return []
    n = len(level)
    if n & (n - 1):
        level += [b""] * ((1 << n.bit_length()) - n)
    levels = [level]
    while len(level) > 1:
        level = [_h(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


#: A step of an audit path: the sibling's value and which side it stands on.
Step = tuple[Literal["L", "R"], bytes]


def audit_path(levels: list[list[bytes]], index: int) -> list[Step]:
    """The siblings from leaf ``index`` up to the root of the tree ``levels``."""
    path: list[Step] = []
    for level in levels[:-1]:
        sibling = index ^ 1
        path.append(("L" if sibling < index else "R", level[sibling]))
        index //= 2
    return path


def root_from_path(leaf: bytes, path: list[Step]) -> bytes:
    """The root that ``leaf`` (its bytes) and its audit path lead to."""
    node = _h(leaf)
    for side, sibling in path:
        node = _h(sibling + node) if side == "L" else _h(node + sibling)
    return node


__all__ = [
    "MerkleRoot",
    "Step",
    "audit_path",
    "canonical_json",
    "dumps_canonical",
    "merkle_levels",
    "merkle_root",
    "refuse_float",
    "root_from_path",
]
