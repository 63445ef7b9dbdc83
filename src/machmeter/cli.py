"""``machmeter`` command line: one module per verb in machmeter.commands, wired here."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from machmeter import __version__
from machmeter.errors import MachmeterError

INTERNAL_ERROR_STATUS = 3

# verb -> module in machmeter.commands; each has add_arguments(parser) and run(args) -> exit status
VERBS = {
    "machine": "Write this machine's GPU fingerprint into asv's machine file",
    "run-pr": "Measure a pull request's base and head several times, alternated, confirm flagged regressions, print the verdict",
    "check": "Flag slowdowns, memory growth and accuracy drops (exit status 1 when there are regressions)",
    "comment": "Post the check of a pull request as one comment on it, edited on every run",
    "notify": "Open, update and close one GitHub issue per regression range of the history check",
    "site": "Build the site of the whole benchmark history (static files for GitHub Pages)",
    "serve": "Build the site and preview it on localhost",
    "demo": "Run this repository's asv suite on its last commits here, print what it measured and the check of the newest commit",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="machmeter", description="Performance-regression tracking for ML code on GPUs, built on asv.")
    parser.add_argument("--version", action="version", version=f"machmeter {__version__}")
    parser.add_argument("--debug", action="store_true", help="On an internal error, print the traceback (also MACHMETER_DEBUG=1)")
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, summary in VERBS.items():
        module = importlib.import_module(f"machmeter.commands.{verb.replace('-', '_')}")
        sub = subparsers.add_parser(verb, help=summary, description=summary)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except MachmeterError as error:
        print(f"machmeter {args.verb}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"machmeter {args.verb}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug, not bad input: a status of its own so CI never reads it as "regressions" (1)
        if args.debug or os.environ.get("MACHMETER_DEBUG", "") not in ("", "0"):
            traceback.print_exc()
        print(
            f"machmeter {args.verb}: internal error: {type(error).__name__}: {error}"
            " (run with --debug or MACHMETER_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return INTERNAL_ERROR_STATUS
