"""Writing files so that an interruption never leaves a half-written one behind."""

from __future__ import annotations

import json
import os
import re
import tempfile

from machmeter.errors import MachmeterError

# a list of numbers or of booleans, as json.dumps(indent=...) spreads it over one line per item
_FLAT_LIST = re.compile(r"\[\s*([-+0-9.eE,\s]+?|true|false|(?:true|false)(?:,\s*(?:true|false))*)\s*\]")


def write_text_atomic(path: str, text: str) -> None:
    """Write to a temporary file beside ``path``, then rename it over ``path``. A folder there, a
    read-only or full file system: a MachmeterError naming ``path`` (the previous file stays)."""
    if os.path.isdir(path):
        raise MachmeterError(f"{path}: is a folder, not a file to write")
    folder = os.path.dirname(os.path.abspath(path))
    temporary = None
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".machmeter-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException as error:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise MachmeterError(f"{path}: cannot be written: {error.strerror or error}") from None
        raise


def json_text(document, *, ensure_ascii: bool = True) -> str:
    """``document`` as JSON indented by one space, each list of numbers or booleans on one line: reference
    data of a few KB that still diffs by atom or by vector."""
    return _FLAT_LIST.sub(lambda m: "[" + re.sub(r",\s+", ", ", m.group(1)) + "]",
                          json.dumps(document, indent=1, ensure_ascii=ensure_ascii)) + "\n"
