"""``machmeter machine``: put this machine's GPU fingerprint where asv stores every result's machine.

asv copies the entry of ``~/.asv-machine.json`` for the machine it runs on into every result file's
``params`` (and into ``results/<machine>/machine.json``), so static GPU facts written here travel with
every result: a result is never shown without the GPU, driver, CUDA and torch it was measured with.
"""

from __future__ import annotations

import json
import os

from machmeter.errors import MachmeterError


def add_arguments(parser):
    parser.add_argument("--machine", help="asv machine name (default: asv's default, the host name)")
    parser.add_argument("--device-index", type=int, default=0, help="CUDA/NVML index of the GPU to describe")
    parser.add_argument("--machine-file", help="asv's machine file (default: ~/.asv-machine.json)")


def update_machine_file(machine: str | None, device_index: int = 0, machine_file: str | None = None) -> dict:
    """Merge the fingerprint into asv's machine entry (created with asv's defaults when absent)."""
    from asv import util
    from asv.machine import Machine, MachineCollection

    from machmeter.instruments import collect_machine_info

    if device_index < 0:
        raise MachmeterError(f"--device-index must be 0 or more, not {device_index}")
    name = machine or Machine.get_unique_machine_name()
    path = machine_file or MachineCollection.get_machine_file_path()
    if os.path.exists(path):
        try:
            with open(path) as stream:
                stored = json.load(stream)
        except (OSError, ValueError) as error:
            # asv would overwrite it: stop before a corrupt file loses every machine's entry
            raise MachmeterError(f"{path}: unreadable asv machine file ({error}); fix or remove it")
        if not isinstance(stored, dict) or not isinstance(stored.get(name, {}), dict):
            raise MachmeterError(f"{path}: not an asv machine file (expected an object of machine objects)")
    try:
        entry = dict(MachineCollection.load(name, _path=machine_file))
    except util.UserError:
        entry = Machine.get_defaults()
    entry.pop("version", None)
    entry["machine"] = name
    entry.update(collect_machine_info(device_index).asv_fields())
    try:
        MachineCollection.save(name, entry, _path=machine_file)
    except OSError as error:
        raise MachmeterError(f"{path}: cannot be written ({error.strerror})") from None
    return entry


def run(args) -> int:
    entry = update_machine_file(args.machine, args.device_index, args.machine_file)
    width = max(len(key) for key in entry)
    print(f"asv machine {entry['machine']!r}:")
    for key in sorted(entry):
        print(f"  {key:<{width}}  {entry[key]}")
    return 0
