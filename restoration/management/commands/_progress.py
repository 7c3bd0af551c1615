"""Progress bars for the archive's management commands (not a command: the name starts with "_")."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.management.base import OutputWrapper
from tqdm import tqdm


class _BarStream:
    """Lets tqdm draw through a command's ``stderr``.

    tqdm redraws its line with carriage returns; Django's ``OutputWrapper`` would end every
    write with a newline and colour it as an error, so both are turned off here.
    """

    def __init__(self, wrapper: OutputWrapper) -> None:
        self.wrapper = wrapper

    def write(self, text: str) -> None:
        self.wrapper.write(text, style_func=str, ending="")

    def flush(self) -> None:
        self.wrapper.flush()


def progress(iterable: Iterable, *, stderr: OutputWrapper, desc: str, verbosity: int, total: int | None = None) -> tqdm:
    """A tqdm bar over ``iterable`` on the command's stderr; silent at verbosity 0."""
    return tqdm(iterable, total=total, unit="file", desc=desc, file=_BarStream(stderr), disable=verbosity == 0)
