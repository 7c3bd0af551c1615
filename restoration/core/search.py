"""Text search that folds case and accents, on SQLite and on PostgreSQL.

"Leon Gimpel", "leon gimpel" and "LÉON" all find "Léon Gimpel", and the other way round.
``Fold(expression)`` is the folded text in SQL; ``folded_contains(fields, text)`` is the
condition "one of ``fields`` contains ``text``", both sides folded by the database (the search
words go through the same function as the column, so the two foldings cannot disagree).

- PostgreSQL: ``lower(unaccent(text))``, from the ``unaccent`` extension (trusted since
  PostgreSQL 13, so the database owner may create it; migration 0007 does).
- SQLite: ``archive_fold(text)``, a deterministic Python function registered on every new
  connection (``register_sqlite_functions``, connected in ``RestorationConfig.ready``): NFKD,
  combining marks dropped, ``casefold()``.

Why a function on the fly rather than a stored, normalised search column: a ``LIKE '%word%'``
search reads every row either way (no index helps an infix match), and a function needs no
column kept in step on every write path (ingest, API, admin, ``ingest --update``) nor a
backfill; it also works on any field a caller adds to the search.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from django.db.models import CharField, Func, Q, Value
from django.db.models.lookups import Contains

SQLITE_FUNCTION = "archive_fold"


def fold(text: str | None) -> str:
    """``text`` without accents (NFKD, combining marks dropped) and case-folded; None -> ""."""
    if not text:
        return ""
    if text.isascii():  # most catalogue text: no accents to drop, and lower() is casefold() here
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class Fold(Func):
    """The folded text of one expression; other databases than SQLite and PostgreSQL get
    ``LOWER`` (case folded, accents kept)."""

    function = "LOWER"
    arity = 1
    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function=SQLITE_FUNCTION, **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="LOWER(UNACCENT(%(expressions)s))", **extra_context)


def folded_contains(fields: Iterable[str], text: str) -> Q:
    """Rows where one of ``fields`` contains ``text``, case and accents folded on both sides.

    ``text`` is passed as a parameter; Django escapes ``%`` and ``_`` in it for ``LIKE``.
    """
    needle = Fold(Value(text, output_field=CharField()))
    match = Q()
    for name in fields:
        match |= Q(Contains(Fold(name), needle))
    return match


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """``connection_created`` receiver: defines ``archive_fold`` on each new SQLite connection."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 1, fold, deterministic=True)
