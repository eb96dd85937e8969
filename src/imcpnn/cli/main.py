"""Entry point of the ``imcpnn`` command: dispatches to one module per subcommand.

Each subcommand module (:data:`imcpnn.cli.commands.COMMANDS`) defines ``register(subparsers)``, which
adds its parsers and sets ``func(args) -> int`` as their default.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .commands import COMMANDS


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``imcpnn`` parser. Only the module of the command named in ``argv`` registers its full parser
    (and does its imports); every other command gets its one help line from :data:`COMMANDS`, so that
    ``imcpnn --help`` imports no torch. ``argv=None`` builds every command fully (for documentation)."""
    parser = argparse.ArgumentParser(
        prog="imcpnn",
        description="Physical neural networks of analog in-memory-computing circuits.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = None if argv is None else next((arg for arg in argv if not arg.startswith("-")), None)
    full = {c.module for name, c in COMMANDS.items() if argv is None or name == chosen}
    registered: set[str] = set()
    for name, command in COMMANDS.items():  # in the table's order, which --help keeps
        if command.module not in full:
            subparsers.add_parser(name, help=command.help)
        elif command.module not in registered:
            importlib.import_module(command.module).register(subparsers)
            registered.add(command.module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        # User-facing errors: one clear line, no traceback from deep inside.
        print(f"imcpnn {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
