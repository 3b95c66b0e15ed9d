"""The one list of anomaly-detection methods (what each trains on, which simulation it may
use) and the names the search and the bump hunt share. Standard library only, so the config
checks and the Snakefile read it without loading the search (the schema's method enums are
tested against it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Method:
    name: str
    trains_on: str  # in words, for docs and messages
    classifier: bool  # k-fold models (classifiers, the autoencoder), one job per fold (ANODE: two flows)
    needs: tuple[str, ...] = ()  # search roles it needs besides the data: "background", "signal"
    inputs: tuple[str, ...] = ()  # window outputs it reads besides the data sets: "samples", "flow"
    # background simulation its classifiers never saw (the bump hunt's sculpting reference)
    unseen_background: tuple[str, ...] = ("ideal", "test")
    # the SR data are one class of its k-fold training (scored out of fold); False: they are
    # never trained on, and the search scores them with the mean of all folds
    trains_on_sr_data: bool = True


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("cathode", "SR data vs. SR samples of the sideband flow", True, inputs=("samples",)),
    Method("lacathode", "SR data vs. sideband data in the flow's latent space", True, inputs=("flow",)),
    Method("cwola", "SR data vs. 200 GeV sideband strips", True),
    Method("anode", "density ratio of an SR flow to the interpolated sideband flow", False, inputs=("flow",)),
    Method("iad", "SR data vs. background simulation (the idealised detector)", True, needs=("background",),
           unseen_background=("test",)),
    Method("supervised", "signal vs. background simulation", True, needs=("background", "signal"),
           unseen_background=("test",), trains_on_sr_data=False),
    Method("autoencoder", "SR data alone (unsupervised): each jet's reconstruction loss", True),
)}
CLASSIFIER_METHODS = tuple(name for name, m in METHODS.items() if m.classifier)
INCLUSIVE = "inclusive"  # the bump hunt's selection that keeps every event (no method)
# the range-scores table (rule score_range -> bumphunt_window): its columns, and the samples
# besides the signal models (named after themselves)
RANGE_COLUMNS = ("sample", "mjj", "is_signal", "score", "n_generated")
RANGE_DATA, RANGE_REFERENCE = "data", "reference"
RANGE_ALTERNATIVE = "reference_alternative"  # a second simulation: the sculpting correction's systematic


def method(name: str) -> Method:
    """The registry entry; KeyError names the known methods."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r} (known: {', '.join(METHODS)})") from None


def variation_dataset(dataset: str, variation: str) -> str:
    """The name of a signal dataset reprocessed through a varied detector
    (``bumphunt.signal_systematics``): ``<dataset>__<systematic>_<up|down>``."""
    return f"{dataset}__{variation}"
