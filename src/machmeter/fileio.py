"""Writing files so that an interruption never leaves a half-written one behind."""

from __future__ import annotations

import json
import os
import re
import tempfile

# a list of numbers or of booleans, as json.dumps(indent=...) spreads it over one line per item
_FLAT_LIST = re.compile(r"\[\s*([-+0-9.eE,\s]+?|true|false|(?:true|false)(?:,\s*(?:true|false))*)\s*\]")


def write_text_atomic(path: str, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".machmeter-", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def json_text(document, *, ensure_ascii: bool = True) -> str:
    """``document`` as JSON indented by one space, each list of numbers or booleans on one line: reference
    data of a few KB that still diffs by atom or by vector."""
    return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]",
                          json.dumps(document, indent=1, ensure_ascii=ensure_ascii)) + "\n"
