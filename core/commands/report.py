"""`railpack-tui report PROGRESS_FILE [--format auto|rawjson|plain] [--json]`: the cache report of
a recorded BuildKit progress stream. Exit 0 when the build succeeded, 1 when it did not
(failed, cancelled, or the stream ends early), 2 when the file is missing or not progress."""

from __future__ import annotations

import argparse
import json

from ..report import load_file, render_table


def run(args: argparse.Namespace) -> int:
    model = load_file(args.progress_file, args.format)
    report = model.to_report()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_table(report))
    return 0 if report["status"] == "success" else 1
