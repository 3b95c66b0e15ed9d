"""Conditional normalising flow p(x | m) (zuko MAF or NSF) as an sklearn-like estimator.

The condition m is one number per event (m_jj in the search) or a vector (the detector-level
observables in generative unfolding); it is standardised per component.

Training is the ML core's loop (bumpfold.ml.training, CATHODE's recipe): a train/validation
split, Adam, early stopping on the validation loss, and an ensemble of the ``n_best`` epochs
with the lowest validation loss (densities averaged; samples drawn from the mixture).
"""

from __future__ import annotations

import io
import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from numpy.typing import NDArray

from bumpfold.errors import BumpfoldInputError, one_line
from bumpfold.io.atomic import atomic_path
from bumpfold.ml.device import resolve_device
from bumpfold.ml.preprocessing import LogitScaler
from bumpfold.ml.settings import FLOW_KINDS, FlowSettings
from bumpfold.ml.training import History, LoopSettings, train_best_epochs

log = logging.getLogger(__name__)


def _build(settings: FlowSettings, n_features: int, n_context: int = 1):
    import zuko

    kinds = {"maf": zuko.flows.MAF, "nsf": zuko.flows.NSF}
    if settings.kind not in FLOW_KINDS:
        raise BumpfoldInputError(f"flow kind {settings.kind!r}: use one of {', '.join(FLOW_KINDS)}")
    return kinds[settings.kind](features=n_features, context=n_context, transforms=settings.transforms,
                                hidden_features=list(settings.hidden))


def _as_context(m: NDArray[np.float64]) -> NDArray[np.float64]:
    """(n,) or (n, c) -> (n, c)."""
    m = np.asarray(m, dtype=np.float64)
    return m[:, None] if m.ndim == 1 else m


class ConditionalFlow:
    """``fit(x, m)``, ``log_prob(x, m)`` (in x space), ``sample(m)``, ``save``/``load``.

    ``x``: (n, d) features; ``m``: (n,) conditional variable (m_jj in GeV) or (n, c) several.
    """

    def __init__(self, settings: FlowSettings | None = None) -> None:
        self.settings = settings or FlowSettings()
        self.scaler = LogitScaler()
        self.m_mean = np.zeros(1)
        self.m_std = np.ones(1)
        self.members: list[torch.nn.Module] = []
        self.history = History()

    # -- helpers ---------------------------------------------------------------------------
    @property
    def n_context(self) -> int:
        return len(self.m_mean)

    def _context(self, m: NDArray[np.float64]) -> torch.Tensor:
        return torch.as_tensor((_as_context(m) - self.m_mean) / self.m_std, dtype=torch.float32)

    def _check(self, x, m) -> None:
        if x.ndim != 2 or len(x) != len(m):
            raise BumpfoldInputError(f"flow input: x has shape {x.shape}, m has {len(m)} entries")
        if not np.isfinite(x).all():
            raise BumpfoldInputError("flow input contains NaN/inf")
        self._check_context(m)

    def _check_context(self, m) -> None:
        """Finite, and (once trained) as many components as the flow was trained with."""
        if not np.isfinite(m).all():
            raise BumpfoldInputError("flow condition m contains NaN/inf")
        n = _as_context(m).shape[1]
        if self.members and n != self.n_context:
            raise BumpfoldInputError(f"flow condition has {n} components, the flow was trained with {self.n_context}")

    # -- training --------------------------------------------------------------------------
    def fit(self, x: NDArray[np.float64], m: NDArray[np.float64]) -> ConditionalFlow:
        s = self.settings
        self._check(x, m)
        if len(x) < 50:
            raise BumpfoldInputError(f"flow training needs at least 50 events, got {len(x)}")
        torch.manual_seed(s.seed)
        rng = np.random.default_rng(s.seed)
        device = resolve_device(s.device)
        self.scaler.fit(x)
        context = _as_context(m)
        self.m_mean = context.mean(axis=0)
        self.m_std = np.where(context.std(axis=0) > 0, context.std(axis=0), 1.0)
        z = torch.as_tensor(self.scaler.transform(x), dtype=torch.float32)
        c = self._context(m)
        order = rng.permutation(len(x))
        n_val = max(1, int(s.val_fraction * len(x)))
        val, train = order[:n_val], order[n_val:]
        flow = _build(s, x.shape[1], self.n_context).to(device)
        # the data live on the training device for the whole fit: no copy per batch
        z, c = z.to(device), c.to(device)
        z_val, c_val = z[val], c[val]
        states, self.history = train_best_epochs(
            flow, batch_loss=lambda idx: -flow(c[idx]).log_prob(z[idx]).mean(),
            validation_loss=lambda: -flow(c_val).log_prob(z_val).mean(), train=train,
            settings=LoopSettings(epochs=s.epochs, batch_size=s.batch_size, learning_rate=s.learning_rate,
                                  n_best=s.n_best, patience=s.patience,
                                  cuda_graphs=s.cuda_graphs),
            rng=rng, device=device, name="flow")
        self.members = []
        for state in states:
            member = _build(s, x.shape[1], self.n_context)
            member.load_state_dict(state)
            self.members.append(member.eval())
        return self

    # -- inference (CPU) -------------------------------------------------------------------
    def log_prob(self, x: NDArray[np.float64], m: NDArray[np.float64]) -> NDArray[np.float64]:
        """log p(x | m) in the original feature space, the ensemble's densities averaged."""
        self._check(x, m)
        if len(x) == 0:  # e.g. no labelled test set beside observed data
            return np.empty(0)
        z = torch.as_tensor(self.scaler.transform(x), dtype=torch.float32)
        c = self._context(m)
        with torch.no_grad():
            logs = torch.stack([f(c).log_prob(z) for f in self.members]).double()
        log_mean = torch.logsumexp(logs, dim=0) - np.log(len(self.members))
        return log_mean.numpy() + self.scaler.log_abs_det_jacobian(x)

    def latent(self, x: NDArray[np.float64], m: NDArray[np.float64], *, member: int = 0) -> NDArray[np.float64]:
        """The flow's base-space image z of each (x, m), through the preprocessing and the
        transform of one ensemble member (0: the epoch with the lowest validation loss).
        For the background the flow was fitted to, z ~ N(0, 1) at every m (LaCATHODE)."""
        self._check(x, m)
        if len(x) == 0:
            return np.empty((0, x.shape[1]))
        z = torch.as_tensor(self.scaler.transform(x), dtype=torch.float32)
        with torch.no_grad():
            return self.members[member](self._context(m)).transform(z).double().numpy()

    def sample(self, m: NDArray[np.float64], *, seed: int) -> NDArray[np.float64]:
        """One x per entry of ``m``, each from a randomly chosen ensemble member."""
        self._check_context(m)
        torch.manual_seed(seed)
        which = np.random.default_rng(seed).integers(len(self.members), size=len(m))
        out = np.empty((len(m), len(self.scaler.low)))
        c = self._context(m)
        with torch.no_grad():
            for k, member in enumerate(self.members):
                sel = np.flatnonzero(which == k)
                if len(sel):
                    out[sel] = member(c[sel]).sample().double().numpy()
        return self.scaler.inverse(out)

    # -- persistence -----------------------------------------------------------------------
    def _payload(self) -> dict:
        """Settings, preprocessing and weights as plain values and tensors. Wall times stay
        out (they are in the job's log), so identical runs write identical files."""
        return {
            "settings": asdict(self.settings), "scaler": self.scaler.state(),
            "m_mean": self.m_mean.tolist(), "m_std": self.m_std.tolist(),
            "history": {k: v for k, v in asdict(self.history).items() if k != "epoch_seconds"},
            "members": [f.state_dict() for f in self.members],
        }

    @classmethod
    def _from_payload(cls, payload: dict) -> ConditionalFlow:
        settings = payload["settings"]
        flow = cls(FlowSettings(**{**settings, "hidden": tuple(settings["hidden"])}))
        flow.scaler = LogitScaler.from_state(payload["scaler"])
        flow.m_mean, flow.m_std = np.atleast_1d(payload["m_mean"]), np.atleast_1d(payload["m_std"])
        flow.history = History(**payload["history"])
        n_features = len(flow.scaler.low)
        for state in payload["members"]:
            member = _build(flow.settings, n_features, flow.n_context)
            member.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
            flow.members.append(member.eval())
        return flow

    def save(self, path: str | Path) -> None:
        buffer = io.BytesIO()  # torch names the archive inside after the file: a buffer keeps
        torch.save(self._payload(), buffer)  # the bytes independent of the temporary name
        with atomic_path(path) as tmp:
            tmp.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> ConditionalFlow:
        try:  # weights_only: a crafted file cannot run code when loaded
            payload = torch.load(path, weights_only=True)
        except FileNotFoundError:
            raise BumpfoldInputError(f"{path}: no such file (a conditional flow)") from None
        except Exception as exc:
            raise BumpfoldInputError(f"{path}: not a bumpfold flow file, or one holding more than tensors and "
                                     f"plain values ({one_line(exc)})") from exc
        return cls._from_payload(payload)

    # pickled (ANODE's models) with NumPy weights, so bumpfold.io.safe_pickle needs no torch code
    def __reduce__(self):
        payload = self._payload()
        payload["members"] = [{k: v.detach().cpu().numpy() for k, v in m.items()} for m in payload["members"]]
        return (_flow_from_payload, (payload,))


def _flow_from_payload(payload: dict) -> ConditionalFlow:
    """Unpickling a ConditionalFlow (trusted by bumpfold.io.safe_pickle)."""
    return ConditionalFlow._from_payload(payload)
