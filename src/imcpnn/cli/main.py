"""Entry point of the ``imcpnn`` command: dispatches to one module per subcommand.

Each subcommand module defines ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the parser default.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMAND_MODULES = (
    "imcpnn.cli.demo",
    "imcpnn.cli.train",
    "imcpnn.cli.experiment",
    "imcpnn.cli.circuit",
    "imcpnn.cli.bench",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imcpnn",
        description="Physical neural networks of analog in-memory-computing circuits.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        # User-facing errors: one clear line, no traceback from deep inside.
        print(f"imcpnn {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
