"""The one training loop of the ML core, shared by the flow and the MLP classifier.

CATHODE's recipe: Adam on mini-batches of a training split, the loss of a separate
validation split after every epoch, optional early stopping, and the weights of the
``n_best`` epochs with the lowest validation loss kept as an ensemble (its members'
predictions are averaged, which is steadier than any single epoch).

On a CUDA GPU each full-size training step (forward, backward, Adam) is captured once as a
CUDA graph and replayed: at CATHODE's batch of 256 a flow step is hundreds of small kernels,
and launching them one by one from Python, not the arithmetic, bounded the GPU (1.2x one CPU
core, measured on an H200). The replayed step does the same arithmetic on the same batches;
the last, smaller batch of an epoch runs eagerly. Where a model cannot be captured, the loop
says so in the log and trains eagerly.
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
    cuda_graphs: bool = True  # on a CUDA device, replay each full-size step as a captured graph


Step = Callable[[torch.Tensor], torch.Tensor]


def _eager_step(optimiser: torch.optim.Optimizer, batch_loss: Callable[[torch.Tensor], torch.Tensor]) -> Step:
    def step(idx: torch.Tensor) -> torch.Tensor:
        loss = batch_loss(idx)
        # set_to_none=False: a captured graph (if any) owns the gradient tensors' memory
        optimiser.zero_grad(set_to_none=False)
        loss.backward()
        optimiser.step()
        return loss.detach()
    return step


def _graphed_step(model: torch.nn.Module, optimiser: torch.optim.Optimizer,
                  batch_loss: Callable[[torch.Tensor], torch.Tensor], example: torch.Tensor) -> Step:
    """One training step of ``len(example)`` events captured as a CUDA graph. The optimiser
    must be built with ``capturable=True``. Capturing needs a few eager warm-up steps; their
    effect on the weights and the optimiser's moments is undone before the capture, so the
    first replayed step starts from the same state as an eager loop would."""
    static_idx = example.clone()
    initial = [p.detach().clone() for p in model.parameters()]
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            optimiser.zero_grad(set_to_none=True)
            batch_loss(static_idx).backward()
            optimiser.step()
    torch.cuda.current_stream().wait_stream(side)
    with torch.no_grad():
        for param, start in zip(model.parameters(), initial, strict=True):
            param.copy_(start)
        for state in optimiser.state.values():  # Adam's step count and moments back to zero
            for value in state.values():
                if torch.is_tensor(value):
                    value.zero_()
    graph = torch.cuda.CUDAGraph()
    optimiser.zero_grad(set_to_none=True)  # the gradients are allocated in the graph's memory
    with torch.cuda.graph(graph):
        captured_loss = batch_loss(static_idx)
        captured_loss.backward()
        optimiser.step()
    # keep the value only: the captured autograd nodes, left alive, would make the eager
    # last-batch steps accumulate their gradients across streams
    static_loss = captured_loss.detach()
    del captured_loss

    def step(idx: torch.Tensor) -> torch.Tensor:
        static_idx.copy_(idx)
        graph.replay()
        return static_loss.detach()
    return step


def _steps(model: torch.nn.Module, batch_loss: Callable[[torch.Tensor], torch.Tensor],
           train: NDArray[np.int64], settings: LoopSettings, device: torch.device,
           name: str) -> tuple[Step, Step]:
    """(full-size step, step for the epoch's last smaller batch): captured and eager on a CUDA
    device with ``cuda_graphs``, else both eager."""
    use_graph = settings.cuda_graphs and device.type == "cuda" and len(train) >= settings.batch_size
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, capturable=use_graph)
    eager = _eager_step(optimiser, batch_loss)
    if not use_graph:
        return eager, eager
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    example = torch.as_tensor(train[: settings.batch_size], device=device)
    try:
        return _graphed_step(model, optimiser, batch_loss, example), eager
    except RuntimeError as exc:  # e.g. an operation that synchronises with the host
        log.warning("%s: the training step cannot be captured as a CUDA graph (%s); training eagerly",
                    name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        torch.cuda.synchronize(device)
        model.load_state_dict(initial)
        optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        eager = _eager_step(optimiser, batch_loss)
        return eager, eager


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
    device = torch.device(device)
    full_step, last_step = _steps(model, batch_loss, train, settings, device, name)
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
            loss = full_step(idx) if len(idx) == settings.batch_size else last_step(idx)
            total += loss.double() * len(idx)
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
