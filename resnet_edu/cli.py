"""Command line: argument parsing only; the work is done by the same functions the notebooks call.

    python -m resnet_edu models [--json]
"""

from __future__ import annotations

import argparse
import json
import sys

from .data import DataError


def cmd_models(args: argparse.Namespace) -> None:
    from .models import build_model, count_macs, count_params, model_names

    names = args.names or [n for n in model_names() if not n.endswith("1202") or args.all]
    rows = []
    for name in names:
        model = build_model(name)
        rows.append({"name": name, "params": count_params(model), "macs": count_macs(model)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'model':<18}{'params':>14}{'MACs / 32x32 image':>22}")
    for r in rows:
        print(f"{r['name']:<18}{r['params'] / 1e6:>13.2f}M{r['macs'] / 1e6:>21.1f}M")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m resnet_edu", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("models", help="list the registered models with parameters and MACs")
    p.add_argument("names", nargs="*", help="models to list (default: all but the 1202-layer nets)")
    p.add_argument("--all", action="store_true", help="include the 1202-layer nets (slow to build)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (DataError, ValueError, FileNotFoundError, PermissionError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
