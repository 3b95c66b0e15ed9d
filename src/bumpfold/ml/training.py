"""The one training loop of the ML core, shared by the flow and the MLP classifier.

CATHODE's recipe: Adam on mini-batches of a training split, the loss of a separate
validation split after every epoch, optional early stopping, and the weights of the
``n_best`` epochs with the lowest validation loss kept as an ensemble (its members'
predictions are averaged, which is steadier than any single epoch).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import NDArray

log = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


@dataclass
class History:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epochs: list[int] = field(default_factory=list)  # the kept epochs, lowest validation loss first
    epoch_seconds: list[float] = field(default_factory=list)  # wall time of each epoch (not saved)


@dataclass(frozen=True)
class LoopSettings:
    epochs: int
    batch_size: int
    learning_rate: float
    n_best: int
    patience: int | None = None  # epochs without improvement before stopping; None: run all epochs


def train_best_epochs(model: torch.nn.Module, *, batch_loss: Callable[[torch.Tensor], torch.Tensor],
                      validation_loss: Callable[[], torch.Tensor], train: NDArray[np.int64],
                      settings: LoopSettings, rng: np.random.Generator, device: torch.device | str,
                      name: str) -> tuple[list[StateDict], History]:
    """Train ``model`` in place; ``batch_loss(idx)`` is the mean loss of the training events
    ``idx`` (a tensor of indices on ``device``), ``validation_loss()`` that of the validation
    split. Returns the state dicts (on the CPU) of the ``n_best`` epochs with the lowest
    validation loss, lowest first, and the loss history.

    The summed training loss stays on the device during an epoch: no host synchronisation
    per batch."""
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    history = History()
    snapshots: list[tuple[float, int, StateDict]] = []
    best, since_best = np.inf, 0
    for epoch in range(settings.epochs):
        started = time.perf_counter()
        model.train()
        perm = torch.as_tensor(train[rng.permutation(len(train))], device=device)
        total = torch.zeros((), dtype=torch.float64, device=device)
        for start in range(0, len(perm), settings.batch_size):
            idx = perm[start:start + settings.batch_size]
            loss = batch_loss(idx)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.detach().double() * len(idx)
        model.eval()
        with torch.no_grad():
            val_loss = float(validation_loss())
        history.train_loss.append(float(total) / max(len(perm), 1))
        history.val_loss.append(val_loss)
        history.epoch_seconds.append(time.perf_counter() - started)
        log.info("%s epoch %d/%d: train %.4f, validation %.4f (%.0f training events/s)", name, epoch + 1,
                 settings.epochs, history.train_loss[-1], val_loss, len(perm) / history.epoch_seconds[-1])
        if not np.isfinite(val_loss):
            raise RuntimeError(f"{name} training diverged at epoch {epoch} (validation loss {val_loss})")
        state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        snapshots = sorted(snapshots + [(val_loss, epoch, state)], key=lambda t: t[0])[: settings.n_best]
        if val_loss < best - 1e-4:
            best, since_best = val_loss, 0
        else:
            since_best += 1
        if settings.patience is not None and since_best >= settings.patience:
            log.info("%s: early stop after epoch %d (best validation loss %.4f)", name, epoch, best)
            break
    history.best_epochs = [epoch for _, epoch, _ in snapshots]
    return [state for _, _, state in snapshots], history
