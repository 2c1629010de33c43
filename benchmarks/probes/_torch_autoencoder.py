"""The issue's PyTorch autoencoder, shared by the PyTorch oracle probes (PyTorch is an
oracle here, never a decnp dependency)."""

import torch

DIMS = [784, 500, 500, 2000, 10]


def stack(widths: list[int]) -> torch.nn.Sequential:
    """Linear layers of ``widths`` with ReLU between them (none after the last)."""
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def autoencoder() -> tuple[torch.nn.Sequential, torch.nn.Sequential]:
    """Encoder 784-500-500-2000-10 and decoder back, drawn from torch's global generator
    in this order (the probes seed it with ``torch.manual_seed`` first)."""
    return stack(DIMS), stack(DIMS[::-1])
