"""The `nextrl` command: build facts, benchmarks (and, later, experiments)."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # plain text
        print(title)
        widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
        for r in [columns, *rows]:
            print("  ".join(str(c).rjust(w) for c, w in zip(r, widths)))
        return
    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="right")
    for r in rows:
        table.add_row(*[str(c) for c in r])
    Console().print(table)


def cmd_info(args: argparse.Namespace) -> int:
    import nextrl

    info = nextrl.build_info()
    if args.json:
        print(json.dumps(info))
    else:
        _table("nextrl build", ["key", "value"], [[k, v] for k, v in info.items()])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nextrl", description="nextrl: compiled deep-RL toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="version, compiler, SIMD level, OpenMP threads, CUDA")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
