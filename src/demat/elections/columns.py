"""Column-wise helpers: the per-value tables and row finders the streaming passes use.

The rules and the exports work on batches of rows (:class:`~demat.elections.read.RowBatch`)
column by column: a value that repeats (a list type, a commune, a birth date, a nationality)
is judged or converted once, through a :class:`Lookup`, and rows are looked at one by one only
where a value was found wanting (:func:`rows_where`). ``map``, ``filter``, ``zip`` and
``itertools.compress`` over C-level callables (``dict.__getitem__``, ``set.__contains__``,
``str.strip``) keep the per-row work out of the interpreter loop.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from itertools import compress
from operator import ne
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
"""A table's key type."""
V = TypeVar("V")
"""A table's value type."""

#: Entries a :class:`Lookup` holds before it starts afresh (memory stays flat on any input).
LOOKUP_MAX = 1 << 16


class Lookup(dict[K, V]):
    """A table computing each missing value once with ``fn`` (hits stay in C:
    ``dict.__getitem__`` calls ``__missing__`` only for new keys); cleared when it reaches
    :data:`LOOKUP_MAX` entries."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[[K], V]) -> None:
        super().__init__()
        self._fn = fn

    def __missing__(self, key: K) -> V:
        if len(self) >= LOOKUP_MAX:
            self.clear()
        value = self[key] = self._fn(key)
        return value

    def map(self, keys: Iterable[K]) -> list[V]:
        """The value of each key, in order."""
        return list(map(self.__getitem__, keys))


def rows_where(values: Sequence[K], bad: set[K] | frozenset[K]) -> Iterator[int]:
    """Indices of the ``values`` that are in ``bad`` (none at all when ``bad`` is empty)."""
    if not bad:
        return iter(())
    return compress(range(len(values)), map(bad.__contains__, values))


def rows_failing(values: Sequence[K], judge: Callable[[K], object]) -> Iterator[int]:
    """Indices of the ``values`` that ``judge`` finds true, each distinct value judged once
    (``judge`` is typically a :class:`Lookup`'s ``__getitem__``)."""
    return rows_where(values, set(filter(judge, set(values))))


def rows_judged(values: Sequence[K], judge: Callable[[K], object]) -> Iterator[int]:
    """Indices of the ``values`` that ``judge`` finds true, judging every value in turn (for
    a column whose values rarely repeat inside a batch, where :func:`rows_failing`'s set of
    distinct values would cost more than it saves)."""
    if not any(map(judge, values)):
        return iter(())
    return compress(range(len(values)), map(judge, values))


def changes(*columns: Sequence[Hashable]) -> list[int]:
    """Where any of ``columns`` (of equal length) changes value: the index of each row whose
    value differs from the previous row's, in order (found in C: ``operator.ne`` over each
    column and the column shifted by one)."""
    found: set[int] = set()
    for column in columns:
        if column and column.count(column[0]) != len(column):
            found.update(compress(range(1, len(column)), map(ne, column[1:], column[:-1])))
    return sorted(found)


def blank_rows(values: Sequence[str]) -> list[int]:
    """Indices of the values that are empty or only whitespace."""
    if "" not in values and not any(map(str.isspace, values)):
        return []
    return [i for i, v in enumerate(values) if not v or v.isspace()]


def stripped(values: Sequence[str]) -> list[str]:
    """Every value without its surrounding whitespace."""
    return list(map(str.strip, values))


__all__ = [
    "LOOKUP_MAX",
    "K",
    "Lookup",
    "V",
    "blank_rows",
    "changes",
    "rows_failing",
    "rows_judged",
    "rows_where",
    "stripped",
]
