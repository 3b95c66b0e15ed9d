"""Device choice for training: the GPU when asked for or available, the CPU otherwise."""

from __future__ import annotations

import torch

from bumpfold.errors import BumpfoldInputError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BumpfoldInputError("device 'cuda' requested but no CUDA GPU is available")
    if name not in ("cpu", "cuda"):
        raise BumpfoldInputError(f"device {name!r}: use auto, cpu or cuda")
    return torch.device(name)
