"""Settings of the ML core as frozen dataclasses, free of torch so that building them (and
planning the workflow) imports no training code. The config layout stays outside
(bumpfold.settings builds these from a validated config)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bumpfold.errors import BumpfoldInputError

CLASSIFIER_KINDS = ("hgb", "mlp")
MLP_INPUTS = ("standard", "quantile")  # how the MLP sees its features (EpochEnsembleMLP)
FLOW_KINDS = ("maf", "nsf")
AUTOENCODER_COMBINATIONS = ("min", "max")  # an event's loss from its two jets' losses


@dataclass(frozen=True)
class ClassifierSettings:
    """One binary classifier, the same type for the search and for OmniFold.

    ``hgb``: scikit-learn HistGradientBoosting (strong and fast on CPU, Finke et al.
    2309.13111); ``mlp``: a PyTorch MLP whose prediction averages its best epochs (CATHODE's).
    """

    kind: str = "hgb"
    # hgb
    max_iter: int = 200  # boosting iterations
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 20
    l2_regularization: float = 0.0
    early_stopping: bool = True
    validation_fraction: float = 0.2
    n_iter_no_change: int = 10
    # the search balances its two classes by class weight; OmniFold balances its event
    # weights itself (its classes' totals carry the physics), so it turns this off
    balance_classes: bool = True
    # mlp
    mlp_hidden: tuple[int, ...] = (64, 64, 64)
    # CATHODE's recipe (Hallin et al.): 100 epochs, the 10 with the lowest validation loss averaged
    mlp_epochs: int = 100
    mlp_batch_size: int = 128
    mlp_learning_rate: float = 1e-3
    mlp_best_epochs: int = 10  # prediction averaged over the epochs with the lowest validation loss
    mlp_inputs: str = "standard"  # standard: mean and spread; quantile: rank-Gaussianised
    device: str = "auto"
    cuda_graphs: bool = True  # replay captured training steps on a CUDA GPU (bumpfold.ml.training)

    def __post_init__(self) -> None:
        if self.kind not in CLASSIFIER_KINDS:
            raise BumpfoldInputError(f"classifier kind {self.kind!r}: use one of {', '.join(CLASSIFIER_KINDS)}")
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            raise BumpfoldInputError("classifier validation_fraction must be in (0, 1), "
                                     f"got {self.validation_fraction}")
        if self.mlp_inputs not in MLP_INPUTS:
            raise BumpfoldInputError(f"classifier mlp_inputs {self.mlp_inputs!r}: use one of {', '.join(MLP_INPUTS)}")
        if min(self.mlp_epochs, self.mlp_batch_size, self.mlp_best_epochs) < 1:
            raise BumpfoldInputError("classifier mlp_epochs, mlp_batch_size and mlp_best_epochs must be >= 1")


@dataclass(frozen=True)
class KFoldSettings:
    """k-fold out-of-fold scoring: ``n_ensemble`` classifiers (seeds) per fold."""

    n_folds: int = 5
    n_ensemble: int = 5
    seed: int = 0
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)

    def __post_init__(self) -> None:
        if self.n_folds < 2 or self.n_ensemble < 1:
            raise BumpfoldInputError(f"k-fold scoring needs n_folds >= 2 and n_ensemble >= 1 "
                                     f"(got {self.n_folds} and {self.n_ensemble})")


@dataclass(frozen=True)
class FlowSettings:
    """A conditional normalising flow (zuko) and its training."""

    kind: str = "maf"  # "maf" (affine MADE) or "nsf" (rational-quadratic splines)
    transforms: int = 4
    hidden: tuple[int, ...] = (64, 64)
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 1e-3
    val_fraction: float = 0.2
    patience: int = 10
    n_best: int = 5
    seed: int = 0
    device: str = "auto"
    cuda_graphs: bool = True  # replay captured training steps on a CUDA GPU (bumpfold.ml.training)


@dataclass(frozen=True)
class AutoencoderSettings:
    """The jet autoencoder (bumpfold.ml.autoencoder) and its training."""

    hidden: tuple[int, ...] = (32, 32)  # encoder widths; the decoder mirrors them
    latent: int = 1  # bottleneck width: below the 3 inputs, so a jet must be compressed
    epochs: int = 40
    batch_size: int = 256
    learning_rate: float = 1e-3
    n_best: int = 5
    patience: int | None = 10
    combine: str = "min"  # the event's loss from its two jets' losses
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.combine not in AUTOENCODER_COMBINATIONS:
            raise BumpfoldInputError(f"autoencoder combine {self.combine!r}: use one of "
                                     f"{', '.join(AUTOENCODER_COMBINATIONS)}")
        if self.latent < 1 or min(self.hidden, default=1) < 1:
            raise BumpfoldInputError("autoencoder latent and hidden widths must be >= 1")
