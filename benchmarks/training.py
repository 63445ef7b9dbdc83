"""Training steps, forward, backward and optimiser step timed apart: a force field fitted to energies and
forces, and a protein encoder fine-tuned for a property.

- ``LennardJonesForceFieldTraining``: argon's Lennard-Jones with trainable epsilon and sigma (started
  10 % and 2 % off), fitted to the reference potential's energies and forces on rattled FCC argon; the
  forces come from a differentiable gradient of the energy, so backward is a double backward. Sizes
  are "<structures>x<atoms>"; the throughput is in structures/s.
- ``ESM2FineTuning``: ESM-2 t6_8M (random weights, built offline) with a linear head on its mean-pooled
  embeddings, regressed onto random targets; every weight trains. Sizes are "<proteins>x<tokens>"; the
  throughput is in tokens/s.

CPUs measure the small size in float32 (and the force field in float64); the large sizes and bfloat16
are GPU runs.
"""

from machmeter.suites.embedding import parse_shape
from machmeter.suites.training import TrainingStepSuite


class LennardJonesForceFieldTraining(TrainingStepSuite):
    params = (["4x32", "16x256"], ["auto"], ["float32", "float64"])
    items_unit = "structures"
    cpu_sizes = ("4x32",)

    def make_model(self, device, dtype):
        from machmeter.workloads.systems import ARGON_LJ
        from machmeter.workloads.training import TrainableLennardJones

        # off the reference's parameters, so that the loss and its gradients are not zero
        model = TrainableLennardJones(epsilon=1.1 * ARGON_LJ["epsilon"], sigma=0.98 * ARGON_LJ["sigma"],
                                      rc=ARGON_LJ["rc"])
        return model.to(device=device, dtype=dtype)

    def make_optimizer(self, parameters):
        import torch

        # weight decay would pull the log-parameters towards epsilon = 1 eV and sigma = 1 A
        return torch.optim.AdamW(parameters, lr=self.learning_rate, weight_decay=0.0)

    def make_batch(self, device, dtype, size):
        from machmeter.workloads.training import lj_training_batch

        structures, atoms = parse_shape(size)
        return lj_training_batch(structures, atoms, device, dtype, seed=0)

    def loss(self, model, batch):
        from machmeter.workloads.training import energy_force_loss

        return energy_force_loss(model, batch)

    def batch_items(self, batch):
        return batch["n_structures"]


class ESM2FineTuning(TrainingStepSuite):
    params = (["2x64", "8x512"], ["auto"], ["float32", "bfloat16"])
    items_unit = "tokens"
    cpu_sizes = ("2x64",)

    def make_model(self, device, dtype):
        from machmeter.workloads.esm import build_esm_model
        from machmeter.workloads.training import MeanPooledRegressor

        encoder = build_esm_model("t6_8M", dtype=dtype, device=device, attn_implementation="sdpa")
        # built for inference (eval, frozen): fine-tuning trains every weight
        encoder.train().requires_grad_(True)
        return MeanPooledRegressor(encoder, encoder.config.hidden_size).to(device=device, dtype=dtype)

    def make_batch(self, device, dtype, size):
        import torch

        from machmeter.workloads.esm import esm_tokenizer, protein_batch

        proteins, tokens = parse_shape(size)
        batch = protein_batch(esm_tokenizer(), proteins, tokens, device, seed=0)
        targets = torch.randn((proteins, 1), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        batch["targets"] = targets.to(device=device, dtype=dtype)
        return batch

    def loss(self, model, batch):
        from machmeter.workloads.training import regression_loss

        return regression_loss(model, batch)

    def batch_items(self, batch):
        return int(batch["attention_mask"].sum())
