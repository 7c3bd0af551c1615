"""Benchmark: the accent-folding search (``restoration.core.search.folded_contains``) beside the
plain ``icontains`` it replaced, on the same items.

Creates N items with made-up titles and descriptions (a tenth of them "Léon Gimpel") in a
temporary SQLite database (or the database of ``--database-url``, e.g. a private PostgreSQL:
its tables are created by migrate and left there), then times the three-field search of the
API's ``q`` filter both ways (median of repeats, after one warm-up) and prints them side by side.

    .venv/bin/python bench/search.py                     # SQLite, 20,000 items
    .venv/bin/python bench/search.py --items 5000 --database-url postgres://archive:archive@127.0.0.1:54331/bench
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("harbour", "quay", "boats", "street", "école", "Zürich", "portrait", "studio", "glass", "negative",
         "autochrome", "dawn", "lighthouse", "market", "procession", "bridge")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "archive_site.settings"
    os.environ["ARCHIVE_VAR_DIR"] = str(work / "var")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ.setdefault("ARCHIVE_LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import Q

    from restoration.core.models import Item
    from restoration.core.search import folded_contains

    call_command("migrate", verbosity=0)
    rng = random.Random(0)
    Item.objects.bulk_create(
        Item(identifier=f"BENCH-{n:06d}",
             title=("Autochrome by Léon Gimpel, " if n % 10 == 0 else "") + " ".join(rng.choices(WORDS, k=6)),
             description=" ".join(rng.choices(WORDS, k=30)))
        for n in range(args.items)
    )
    fields = ("identifier", "title", "description")

    def plain(text: str) -> int:
        match = Q()
        for name in fields:
            match |= Q(**{f"{name}__icontains": text})
        return Item.objects.filter(match).count()

    def folded(text: str) -> int:
        return Item.objects.filter(folded_contains(fields, text)).count()

    def median_ms(search, text: str) -> tuple[float, int]:
        found = search(text)  # warm-up
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            search(text)
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times), found

    print(f"{connection.vendor}, {args.items} items, median of {args.repeats} (ms)")
    print(f"{'query':<14} {'icontains':>10} {'found':>6}   {'folded':>10} {'found':>6}")
    for text in ("Léon Gimpel", "leon gimpel", "zurich", "nothing-here"):
        plain_ms, plain_found = median_ms(plain, text)
        folded_ms, folded_found = median_ms(folded, text)
        print(f"{text:<14} {plain_ms:>10.1f} {plain_found:>6}   {folded_ms:>10.1f} {folded_found:>6}")
    if not args.database_url:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
