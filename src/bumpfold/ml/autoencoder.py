"""An autoencoder on each jet's substructure: the unsupervised detector beside the weakly
supervised ones (the idea of CASE's VAE-QR, CMS-PAS-EXO-22-026, with a plain autoencoder).

Each jet is (ln m_j, tau21, tau32), standardised with the training jets' mean and spread;
both jets of an event are training examples of one network, which does not know which jet
is the heavier. The network squeezes a jet through a narrow bottleneck and back; its
anomaly measure is the reconstruction loss (mean squared error over the three inputs). A
jet unlike the bulk of the training jets (QCD's) is reconstructed worse.

The event's loss combines its two jets' losses: ``min`` (default; both jets must look
unusual, as for a resonance decaying to two heavy objects) or ``max`` (either jet). The
event score is L / (1 + L): monotonic in the loss and inside (0, 1) like a classifier's
output, so the bump hunt's thresholds apply unchanged (its quantile regression works on
logit(score) = ln L).

Training is the ML core's loop (bumpfold.ml.training): a validation split, Adam, the
``n_best`` epochs with the lowest validation loss kept and their losses averaged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError
from bumpfold.ml.settings import AutoencoderSettings

# the event columns the autoencoder reads, in this order (every search data set has them)
JET_COLUMNS = ("mj_low", "delta_mj", "tau21_low", "tau21_high", "tau32_low", "tau32_high")
MIN_JET_MASS = 1.0  # GeV: ln m_j needs m_j > 0; lighter jets are treated as 1 GeV


def jets(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Events (columns JET_COLUMNS) -> (2 n, 3) jets: the lighter jet of every event, then the
    heavier, each as (ln m_j, tau21, tau32)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(JET_COLUMNS):
        raise BumpfoldInputError(f"autoencoder input: {x.shape} events, need (n, {len(JET_COLUMNS)}) with columns "
                                 f"{', '.join(JET_COLUMNS)}")
    if not np.isfinite(x).all():
        raise BumpfoldInputError("autoencoder input contains NaN/inf")
    m_low, m_high = x[:, 0], x[:, 0] + x[:, 1]
    light = np.column_stack([np.log(np.maximum(m_low, MIN_JET_MASS)), x[:, 2], x[:, 4]])
    heavy = np.column_stack([np.log(np.maximum(m_high, MIN_JET_MASS)), x[:, 3], x[:, 5]])
    return np.concatenate([light, heavy])


def _network(n_in: int, settings: AutoencoderSettings) -> Any:
    import torch

    widths = [n_in, *settings.hidden, settings.latent, *reversed(settings.hidden)]
    layers: list[torch.nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:], strict=True):
        layers += [torch.nn.Linear(a, b), torch.nn.SiLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], n_in))


class JetAutoencoder:
    """``fit(x)`` on events (columns JET_COLUMNS), ``event_loss(x)``, ``score(x)`` in (0, 1),
    higher = more anomalous. Pickles its weights as NumPy arrays (bumpfold.io.safe_pickle)."""

    def __init__(self, settings: AutoencoderSettings, seed: int) -> None:
        self.settings = settings
        self.seed = seed
        self.mean: NDArray[np.float64] | None = None
        self.std: NDArray[np.float64] | None = None
        self.members: list[Any] = []

    def fit(self, x: NDArray[np.float64]) -> JetAutoencoder:
        import torch

        from bumpfold.ml.device import resolve_device
        from bumpfold.ml.training import LoopSettings, train_best_epochs

        s = self.settings
        j = jets(x)
        if len(x) < 50:
            raise BumpfoldInputError(f"the autoencoder needs at least 50 events to train, got {len(x)}")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        device = resolve_device(s.device)
        self.mean, self.std = j.mean(axis=0), np.where(j.std(axis=0) > 0, j.std(axis=0), 1.0)
        jt = torch.as_tensor((j - self.mean) / self.std, dtype=torch.float32, device=device)
        order = rng.permutation(len(j))
        n_val = max(1, len(j) // 5)
        val = torch.as_tensor(order[:n_val], device=device)
        net = _network(j.shape[1], s).to(device)

        def loss(idx: torch.Tensor) -> torch.Tensor:
            return (net(jt[idx]) - jt[idx]).pow(2).mean()

        states, _ = train_best_epochs(
            net, batch_loss=loss, validation_loss=lambda: loss(val), train=order[n_val:],
            settings=LoopSettings(epochs=s.epochs, batch_size=s.batch_size, learning_rate=s.learning_rate,
                                  n_best=s.n_best, patience=s.patience),
            rng=rng, device=device, name="autoencoder")
        self.members = []
        for state in states:
            member = _network(j.shape[1], s)
            member.load_state_dict(state)
            self.members.append(member.eval())
        return self

    def jet_loss(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """(n, 2) reconstruction losses of each event's lighter and heavier jet, averaged over
        the ensemble of best epochs."""
        import torch

        if self.mean is None or self.std is None or not self.members:
            raise BumpfoldInputError("the autoencoder is not trained (fit it first)")
        if len(x) == 0:
            return np.empty((0, 2))
        j = torch.as_tensor((jets(x) - self.mean) / self.std, dtype=torch.float32)
        with torch.no_grad():
            losses = np.mean([(m(j) - j).pow(2).mean(dim=1).double().numpy() for m in self.members], axis=0)
        return losses.reshape(2, len(x)).T

    def event_loss(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        per_jet = self.jet_loss(x)
        return per_jet.min(axis=1) if self.settings.combine == "min" else per_jet.max(axis=1)

    def score(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """L / (1 + L) of the event loss L: higher = more anomalous, in (0, 1)."""
        loss = self.event_loss(x)
        return loss / (1.0 + loss)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["members"] = [{k: v.detach().cpu().numpy() for k, v in m.state_dict().items()} for m in self.members]
        return state

    def __setstate__(self, state: dict) -> None:
        import torch

        state = dict(state)
        weights = state.pop("members")
        self.__dict__.update(state)
        self.members = []
        for member in weights:
            net = _network(3, self.settings)
            net.load_state_dict({k: torch.as_tensor(v) for k, v in member.items()})
            self.members.append(net.eval())

