"""machmeter.fingerprint: the fields are exactly what ``machmeter machine`` writes and asv records, and
two runs' fingerprints differ only where both recorded a value and the values differ."""

from __future__ import annotations

from asv.machine import Machine

from machmeter.fingerprint import GPU_FIELDS, HOST_FIELDS, fingerprint_differences
from machmeter.instruments.gpu import MachineInfo

H100 = {"gpu": "NVIDIA H100 80GB HBM3", "gpu_count": "1", "gpu_driver": "550.54.15", "cuda": "12.4",
        "torch": "2.5.1+cu124", "cpu": "AMD EPYC 9654", "ram": "1056000000"}


def test_the_gpu_fields_are_what_machine_writes():
    info = MachineInfo("GPU", "GPU-1", 1, "550", "12.4", "2.5.1", 80 * 2**30, 1980, 2619, 700.0, "enabled",
                       "enabled", "disabled", "9.0")
    assert [key for key, _, _ in GPU_FIELDS] and {key for key, _, _ in GPU_FIELDS} == set(info.asv_fields())


def test_the_host_fields_are_asvs_own():
    assert {key for key, _, _ in HOST_FIELDS} <= set(Machine.get_defaults())


def test_no_difference_between_equal_fingerprints():
    assert fingerprint_differences(H100, dict(H100)) == []


def test_each_changed_field_once_in_reading_order_with_its_label():
    after = {**H100, "torch": "2.6.0+cu124", "gpu_driver": "560.28.03", "cpu": "Intel Xeon"}
    assert fingerprint_differences(H100, after) == [
        ("driver", "550.54.15", "560.28.03"), ("torch", "2.5.1+cu124", "2.6.0+cu124"), ("CPU", "AMD EPYC 9654", "Intel Xeon")]


def test_a_field_one_run_did_not_record_is_no_difference():
    # older runs (before `machmeter machine`) have no GPU keys: not a change of machine
    assert fingerprint_differences({"cpu": "AMD EPYC 9654"}, H100) == []
    assert fingerprint_differences(H100, {**H100, "cuda": "", "torch": None}) == []


def test_values_are_compared_as_text():
    # asv writes machine.json values as strings; a number read elsewhere is the same value
    assert fingerprint_differences({"gpu_count": 1}, {"gpu_count": "1"}) == []
    assert fingerprint_differences({"gpu_count": 1}, {"gpu_count": "2"}) == [("GPUs", "1", "2")]


def test_keys_outside_the_fingerprint_are_ignored():
    assert fingerprint_differences({**H100, "machine": "a"}, {**H100, "machine": "b"}) == []
