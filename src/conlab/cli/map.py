"""``conlab map``: module:function over JSON lines on stdin, JSON lines on stdout."""

from __future__ import annotations

import argparse
import sys

from conlab.errors import ConlabError, format_error


def map_lines(args: argparse.Namespace) -> int:
    import conlab.engine as engine
    from conlab.engine import jsonlines
    from conlab.workloads.user import load_callable

    fn = load_callable(args.function)
    out = jsonlines.private_stdout()
    results = engine.map(
        fn,
        jsonlines.read_items(sys.stdin),
        strategy=args.strategy,
        workers=args.workers,
        chunksize=args.chunksize or "auto",
        ordered=not args.unordered,
        timeout=args.timeout,
        retries=args.retries,
        errors=args.errors,
        max_threads=args.max_threads,
    )
    with results, jsonlines.telling(args.quiet):
        try:
            jsonlines.write_results(iter(results), out)
        except ConlabError:
            raise
        except Exception as exc:
            index = getattr(exc, "conlab_index", "?")
            text = format_error(exc)
            raise ConlabError(
                f"item {index} failed: {text} (use --errors collect to go on)"
            ) from None
    return 0
