"""The asv project machmeter works on: asv.conf.json read by asv itself, paths made absolute."""

from __future__ import annotations

import os
from dataclasses import dataclass

from machmeter.errors import MachmeterError
from machmeter.repository import refuse_option


@dataclass(frozen=True)
class AsvProject:
    config_path: str
    project: str
    repo: str | None
    branches: tuple[str, ...]
    results_dir: str
    html_dir: str
    show_commit_url: str

    @property
    def root(self) -> str:
        return os.path.dirname(self.config_path)


def load_project(config_path: str = "asv.conf.json") -> AsvProject:
    from asv import config, util

    config_path = os.path.abspath(config_path)
    if not os.path.isfile(config_path):
        raise MachmeterError(f"{config_path}: asv configuration not found (pass --config)")
    try:
        conf = config.Config.load(config_path)
    except util.UserError as error:
        raise MachmeterError(f"{config_path}: {error}") from None
    except (ValueError, TypeError, AttributeError, RecursionError) as error:  # JSON of another shape
        raise MachmeterError(f"{config_path}: not a valid asv configuration: {type(error).__name__}: {error}") from None
    for key in ("project", "repo", "results_dir", "html_dir", "show_commit_url"):
        if getattr(conf, key, None) is not None and not isinstance(getattr(conf, key), str):
            raise MachmeterError(f"{config_path}: {key} must be a string, not {type(getattr(conf, key)).__name__}")
    if not isinstance(conf.branches, list):
        raise MachmeterError(f"{config_path}: branches must be a list of names")
    root = os.path.dirname(config_path)

    def absolute(path):
        return path if path is None or os.path.isabs(path) or "://" in path else os.path.normpath(os.path.join(root, path))

    return AsvProject(
        config_path=config_path,
        project=conf.project,
        repo=absolute(conf.repo),
        branches=tuple(refuse_option(b, f"{config_path}: branch") for b in conf.branches if b),
        results_dir=absolute(conf.results_dir),
        html_dir=absolute(conf.html_dir),
        show_commit_url=conf.show_commit_url,
    )
