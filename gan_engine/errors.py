"""The library's own error type.

Every error that ``gan_engine`` raises on purpose for bad input (a missing or malformed
checkpoint, an unreadable image, unusable feature weights, a bad command line) derives from
:class:`GanEngineError`, so a caller (the CLI, the archive's job worker) can catch what the
library means to report and let anything else, a bug, propagate with its traceback.
The concrete errors also stay ``ValueError`` subclasses, as callers relied on before there was
a base class. This module imports nothing: the web process reads cards without torch.
"""

from __future__ import annotations

__all__ = ["GanEngineError", "InvalidInputError"]


class GanEngineError(Exception):
    """Base of the errors that gan_engine raises deliberately (never for a bug)."""


class InvalidInputError(GanEngineError, ValueError):
    """A value given by the user is out of range or unknown (a strength outside [0, 1], an unknown
    device, scale or method, a folder without images).

    Also a ``ValueError``: the archive's jobs layer and older scripts catch ``ValueError`` for
    bad parameters. A ``ValueError`` that is *not* this class is a bug (a shape mismatch between
    two internal arrays, say) and must show its traceback.
    """
