"""``machmeter serve``: build the site and preview it on localhost (``--no-build``: serve the site
already built)."""

from __future__ import annotations

import os

from machmeter.errors import MachmeterError


def add_arguments(parser):
    from machmeter.commands import site

    site.add_build_arguments(parser)
    site.add_server_arguments(parser)
    parser.add_argument("--no-build", action="store_true", help="serve the site already in the output folder")


def run(args) -> int:
    from machmeter.commands import site
    from machmeter.site.serve import serve_forever

    if args.no_build:
        from machmeter.project import load_project

        folder = os.path.abspath(args.output or load_project(args.config).html_dir)
        if not os.path.isfile(os.path.join(folder, "index.html")):
            raise MachmeterError(f"{folder}: no site there (run machmeter site, or drop --no-build)")
    else:
        folder = site.build(args).output_dir
    serve_forever(folder, args.host, args.port)
    return 0
