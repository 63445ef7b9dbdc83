"""The training-step suite (machmeter.suites.training), its phase timer (instruments.timer.time_phases),
the training workloads and benchmarks/training.py, at small sizes on the CPU; the CUDA run is GPU-marked."""

from __future__ import annotations

import math
import time

import pytest
import torch

from benchmarks import training as training_benchmarks
from machmeter.instruments import time_phases
from machmeter.suites import TrainingStepSuite, declaration_of
from machmeter.workloads.lj import LJPotential
from machmeter.workloads.systems import ARGON_LJ
from machmeter.workloads.training import TrainableLennardJones, energy_force_loss, lj_training_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PARAMS = (16, "cpu", "float32")
SLEEP_S = 0.005


def quick(cls, **attributes):
    """The suite class with a short measurement, for tests."""
    return type(f"Quick{cls.__name__}", (cls,), {"warmup_steps": 1, "phase_min_steps": 5, "phase_target_time": 0.01,
                                                  "step_min_steps": 5, "step_target_time": 0.01, "counter_calls": 2,
                                                  **attributes})


class TinyRegression(TrainingStepSuite):
    """A two-layer MLP fitted to random targets, SGD without weight decay: parameters move only where
    gradients reached them."""

    params = ([16], ["cpu"], ["float32", "bfloat16"])
    warmup_steps = 1
    phase_min_steps = 10
    phase_target_time = 0.05
    step_min_steps = 10
    step_target_time = 0.05
    counter_calls = 2

    def make_model(self, device, dtype):
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1)).to(device, dtype)

    def make_batch(self, device, dtype, size):
        generator = torch.Generator().manual_seed(1)
        return {"inputs": torch.randn(size, 32, generator=generator).to(device, dtype),
                "targets": torch.randn(size, 1, generator=generator).to(device, dtype)}

    def loss(self, model, batch):
        return torch.nn.functional.mse_loss(model(batch["inputs"]), batch["targets"])

    def make_optimizer(self, parameters):
        return torch.optim.SGD(parameters, lr=0.1)

    def batch_items(self, batch):
        return len(batch["inputs"])


class SlowBackward(TinyRegression):
    """The same model with a backward hook that sleeps: backward, and only backward, gets slower."""

    def make_model(self, device, dtype):
        model = super().make_model(device, dtype)
        # on the output layer, whose input (the hidden activations) needs a gradient
        model[-1].register_full_backward_hook(lambda module, grad_input, grad_output: time.sleep(SLEEP_S))
        return model


def measured_metrics(cls, params=PARAMS):
    suite = cls()
    measured = suite.setup_cache()
    suite.setup(measured, *params)
    return suite, measured


# ------------------------------------------------------------------ the phase timer


def test_time_phases_times_each_phase_in_order_with_its_own_samples():
    calls = []

    def slow():
        calls.append("slow")
        time.sleep(0.002)

    def fast():
        calls.append("fast")

    phases = time_phases({"slow": slow, "fast": fast}, device="cpu", warmup_calls=2, min_repeats=4, target_time=0.0)
    assert calls == ["slow", "fast"] * 6  # two warm-up repetitions, then four timed ones, phases in order
    assert [m.n for m in phases.values()] == [4, 4]
    assert min(phases["slow"].samples) >= 0.002 and phases["fast"].median < 0.001
    assert phases["slow"].label == "slow" and phases["fast"].method == "perf_counter"
    with pytest.raises(ValueError, match="at least one phase"):
        time_phases({}, device="cpu")


# ------------------------------------------------------------------ the suite


def test_the_suite_measures_every_phase_and_the_whole_step_with_samples():
    suite, measured = measured_metrics(TinyRegression)
    distributions = {name: getattr(suite, f"track_{name}_latency_p50")(measured, *PARAMS)
                     for name in ("forward", "backward", "optimizer", "step")}
    for distribution in distributions.values():
        assert distribution["number"] == 1 and len(distribution["samples"]) >= 10
        assert all(sample > 0 for sample in distribution["samples"])
    medians = {name: sorted(d["samples"])[len(d["samples"]) // 2] for name, d in distributions.items()}
    phases = medians["forward"] + medians["backward"] + medians["optimizer"]
    # the phases are timed apart, synchronised, and the step whole: about the same time, never twice
    assert 0.5 < phases / medians["step"] < 2.0
    assert suite.track_peak_memory_host(measured, *PARAMS) > 0
    assert math.isnan(suite.track_peak_memory_torch(measured, *PARAMS))  # no CUDA allocator on a CPU
    assert suite.track_aten_ops_per_call(measured, *PARAMS) > 0
    suite.time_training_step(measured, *PARAMS)


def test_throughput_is_the_batch_items_over_each_whole_step():
    suite, measured = measured_metrics(TinyRegression)
    steps_ms = suite.track_step_latency_p50(measured, *PARAMS)["samples"]
    throughput = suite.track_step_throughput(measured, *PARAMS)["samples"]
    assert suite.metrics["batch_items"] == 16
    assert throughput == pytest.approx([16 / (ms / 1e3) for ms in steps_ms])


def test_a_slower_backward_shows_in_the_backward_phase_and_not_in_the_forward():
    plain, _ = measured_metrics(TinyRegression)
    slow, _ = measured_metrics(SlowBackward)
    sleep_ms = SLEEP_S * 1e3
    assert min(slow.metrics["backward_ms_p50__samples"]) >= sleep_ms
    assert slow.metrics["backward_ms_p50"] > plain.metrics["backward_ms_p50"] + 0.8 * sleep_ms
    assert slow.metrics["forward_ms_p50"] < plain.metrics["forward_ms_p50"] + 0.4 * sleep_ms
    assert slow.metrics["optimizer_ms_p50"] < plain.metrics["optimizer_ms_p50"] + 0.4 * sleep_ms
    assert slow.metrics["step_ms_p50"] >= sleep_ms


def test_a_step_trains_every_parameter_through_its_gradient():
    step = TinyRegression().build_step(*PARAMS)
    before = [parameter.detach().clone() for parameter in step.model.parameters()]
    step.forward()
    step.backward()
    assert all(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in step.model.parameters())
    step.optimizer_step()
    # SGD without weight decay: only a gradient moves a parameter
    assert all(not torch.equal(old, new) for old, new in zip(before, step.model.parameters()))
    assert all(parameter.grad is None for parameter in step.model.parameters())  # zero_grad(set_to_none)
    with pytest.raises(RuntimeError, match="before forward"):
        step.backward()


def test_the_default_optimizer_is_adamw_with_the_suites_learning_rate():
    class Default(TinyRegression):
        make_optimizer = TrainingStepSuite.make_optimizer
        learning_rate = 3e-4

    optimizer = Default().build_step(*PARAMS).optimizer
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["lr"] == 3e-4


def test_skips_and_failures_say_why():
    class Frozen(TinyRegression):
        params = ([16, 64], ["cpu"], ["float32", "bfloat16"])
        cpu_sizes = (16,)

        def make_model(self, device, dtype):
            return super().make_model(device, dtype).requires_grad_(False)

    measured = Frozen().setup_cache()
    assert "measured on GPUs only" in measured["16|'cpu'|'bfloat16'"]["skip"]
    assert "cpu_sizes=(16,)" in measured["64|'cpu'|'float32'"]["skip"]
    assert "without trainable parameters" in measured["16|'cpu'|'float32'"]["error"]


def test_every_series_is_declared_and_the_throughput_in_the_suites_unit():
    benchmarks = [name for name in dir(TrainingStepSuite) if name.startswith("track_")]
    assert len(benchmarks) == 12
    for name in benchmarks:
        declaration = declaration_of(getattr(TrainingStepSuite, name))
        assert declaration["metric_kind"] and declaration["unit"], name
    assert declaration_of(TrainingStepSuite.track_forward_latency_p50) == {
        "metric_kind": "time", "higher_is_better": False, "unit": "ms"}
    assert declaration_of(TrainingStepSuite.track_peak_memory_torch)["unit"] == "bytes"
    units = {cls: declaration_of(cls.track_step_throughput)["unit"]
             for cls in (TrainingStepSuite, TinyRegression, training_benchmarks.LennardJonesForceFieldTraining,
                         training_benchmarks.ESM2FineTuning)}
    assert list(units.values()) == ["samples/s", "samples/s", "structures/s", "tokens/s"]
    assert declaration_of(training_benchmarks.ESM2FineTuning.track_step_throughput)["higher_is_better"] is True


# ------------------------------------------------------------------ the force field


def test_the_trainable_force_field_at_argons_parameters_is_the_reference_potential():
    batch = lj_training_batch(3, 32, "cpu", torch.float64, seed=4)
    model = TrainableLennardJones(**ARGON_LJ).double()
    positions = batch["positions"].detach().requires_grad_(True)
    energies = model(positions, batch)
    forces = -torch.autograd.grad(energies.sum(), positions)[0]
    assert torch.allclose(energies, batch["energy"], rtol=1e-12, atol=0)
    assert torch.allclose(forces, batch["forces"], atol=1e-12)
    assert batch["forces"].abs().max() > 1e-3  # rattled: there are forces to fit
    # each structure's own reference: the flattened graph does not mix structures
    single = lj_training_batch(1, 32, "cpu", torch.float64, seed=5)
    reference = LJPotential(**ARGON_LJ).energy_forces(single["positions"], _argon_cell(32), True)[0]
    assert float(batch["energy"][1]) == pytest.approx(float(reference), rel=1e-12)
    assert torch.equal(batch["pair_structure"], batch["i"] // 32) and torch.equal(batch["pair_structure"],
                                                                                  batch["j"] // 32)
    assert energy_force_loss(model, batch).item() < 1e-20


def _argon_cell(n_atoms):
    from machmeter.workloads.systems import lj_argon

    return torch.from_numpy(lj_argon(n_atoms).cell.array)


def test_the_force_term_backpropagates_into_the_parameters():
    batch = lj_training_batch(2, 32, "cpu", torch.float64)
    model = TrainableLennardJones(1.1 * ARGON_LJ["epsilon"], 0.98 * ARGON_LJ["sigma"], ARGON_LJ["rc"]).double()

    def gradient(force_weight):
        model.zero_grad()
        energy_force_loss(model, batch, force_weight=force_weight).backward()
        return torch.stack([model.log_epsilon.grad, model.log_sigma.grad])

    # without create_graph the forces would be constants and the force weight would change nothing
    assert not torch.allclose(gradient(1.0), gradient(0.0), rtol=1e-3)


def test_the_force_field_benchmark_measures_on_the_cpu_and_its_steps_fit_the_reference():
    cls = quick(training_benchmarks.LennardJonesForceFieldTraining,
                params=(["4x32", "16x256"], ["auto"], ["float32"]))
    suite, measured = measured_metrics(cls, ("4x32", "auto", "float32"))
    assert suite.metrics["device"] == "cpu" and suite.metrics["batch_items"] == 4
    assert all(ms > 0 for phase in ("forward", "backward", "optimizer")
               for ms in suite.metrics[f"{phase}_ms_p50__samples"])
    assert "GPUs only" in measured["'16x256'|'auto'|'float32'"]["skip"]
    step = cls().build_step("4x32", "cpu", "float32")
    first = step.forward().item()
    step.backward()
    step.optimizer_step()
    for _ in range(20):
        step()
    assert step.forward().item() < 0.9 * first  # full-batch steps towards argon's parameters


# ------------------------------------------------------------------ the encoder


def test_the_fine_tuning_step_trains_the_encoder_and_its_head():
    cls = quick(training_benchmarks.ESM2FineTuning, cpu_sizes=None, warmup_steps=0)
    step = cls().build_step("2x16", "cpu", "float32")
    assert cls().batch_items(step.batch) == 32
    encoder_weight = step.model.encoder.encoder.layer[0].attention.self.query.weight
    before = {"encoder": encoder_weight.detach().clone(), "head": step.model.head.weight.detach().clone()}
    step()
    assert not torch.equal(before["encoder"], encoder_weight)
    assert not torch.equal(before["head"], step.model.head.weight)
    assert step.model.encoder.training


# ------------------------------------------------------------------ asv


def test_asv_discovers_the_training_benchmarks_but_not_the_imported_base():
    import pathlib

    from asv_runner.discovery import disc_benchmarks, update_sys_path

    root = str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks")
    update_sys_path(root)
    names = {benchmark.name for benchmark in disc_benchmarks(root) if benchmark.name.startswith("training.")}
    series = {name for name in dir(TrainingStepSuite) if name.startswith(("time_", "track_"))}
    expected = {f"training.{cls}.{name}" for cls in ("LennardJonesForceFieldTraining", "ESM2FineTuning")
                for name in series}
    assert names == expected


# ------------------------------------------------------------------ GPU


@pytest.mark.gpu
def test_both_training_benchmarks_on_the_gpu():
    for cls, size, dtype in ((training_benchmarks.LennardJonesForceFieldTraining, "16x256", "float32"),
                             (training_benchmarks.ESM2FineTuning, "8x512", "bfloat16")):
        suite, _ = measured_metrics(quick(cls, params=([size], ["auto"], [dtype]), phase_min_steps=10,
                                          step_min_steps=10), (size, "auto", dtype))
        metrics = suite.metrics
        assert metrics["device"] == "cuda"
        for phase in ("forward", "backward", "optimizer", "step"):
            assert min(metrics[f"{phase}_ms_p50__samples"]) > 0, phase
        # weights, their gradients and the optimiser's two moments at least
        model = cls().make_model(torch.device("cuda"), getattr(torch, dtype))
        parameters = sum(p.numel() * p.element_size() for p in model.parameters())
        assert metrics["peak_torch_allocated_bytes"] > 3 * parameters
        assert metrics["counter_kernels"] > 0
        phases = metrics["forward_ms_p50"] + metrics["backward_ms_p50"] + metrics["optimizer_ms_p50"]
        # synchronising between phases only adds time: the whole step in a loop is never much longer
        assert metrics["step_ms_p50"] < 1.5 * phases
