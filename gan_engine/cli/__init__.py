"""Command line: ``python -m gan_engine COMMAND ...`` (``--help`` lists the commands).

The CLI only parses arguments and calls library functions; one module per family of commands
(:mod:`.inference`, :mod:`.training`, :mod:`.evaluation`), what they share in :mod:`.common`.
Expected failures, the library's own errors (:class:`~gan_engine.errors.GanEngineError`: a
missing file, a file that is not an image, unreadable weights, an unknown device, a value out of
range), print one line on stderr and exit with status 2. Anything else is a bug and propagates
with its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gan_engine.cli import evaluation, inference, training
from gan_engine.cli.common import EXIT_USAGE, VGG19_WEIGHTS_ENV, CLIError
from gan_engine.errors import GanEngineError

__all__ = ["CLIError", "EXIT_USAGE", "VGG19_WEIGHTS_ENV", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gan_engine",
                                     description="Restoration of aged photographs (gan_engine).")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    inference.add_parsers(sub)
    training.add_parsers(sub)
    evaluation.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    # Training reports its progress in the log; the other commands stay quiet unless -v.
    level = logging.DEBUG if args.verbose else logging.INFO if args.command in ("train", "train-colorizer", "train-damage") else logging.WARNING
    logging.basicConfig(level=level,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except GanEngineError as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE
