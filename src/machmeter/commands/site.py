"""``machmeter site``: the historical-performance site of the whole benchmark history (static files
for GitHub Pages), from asv's results and the verdicts of ``machmeter check --history``."""

from __future__ import annotations

import sys


def add_build_arguments(parser):
    parser.add_argument("--config", default="asv.conf.json", help="asv configuration (default: ./asv.conf.json)")
    parser.add_argument("--output", metavar="DIR", help="where to write the site (default: asv's html_dir); "
                                                       "a previous site there is replaced when the build is done")
    parser.add_argument("--machine", help="only this asv machine")
    parser.add_argument("--site-url", metavar="URL", help="where the site is published (absolute links in the "
                                                          "Atom feed; default: site_url of the machmeter config)")


def add_server_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")


def add_arguments(parser):
    add_build_arguments(parser)
    parser.add_argument("--serve", action="store_true", help="then serve it on localhost (as machmeter serve)")
    add_server_arguments(parser)


def build(args):
    from machmeter.site import build_site

    summary = build_site(args.config, args.output, site_url=args.site_url, machine=args.machine)
    for warning in summary.warnings:
        print(f"machmeter site: warning: {warning}", file=sys.stderr)
    print(f"machmeter site: {summary.pages} pages, {summary.series} series of {summary.benchmarks} benchmarks on "
          f"{summary.machines} machine(s), {summary.commits} commits, {summary.open_regressions} open "
          f"regression(s), in {summary.output_dir} ({summary.seconds:.1f} s)")
    return summary


def run(args) -> int:
    summary = build(args)
    if args.serve:
        from machmeter.site.serve import serve_forever

        serve_forever(summary.output_dir, args.host, args.port)
    return 0
