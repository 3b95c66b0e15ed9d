"""Typed settings: sections of a validated config (bumpfold.config) as the dataclasses the
library functions take; the one place that knows the config's layout. Each type lives in
the room that uses it: the ML core's below, imported here; those of the rooms above
(generation, skim, search, bump hunt, unfolding) are imported when built, so that importing
this module stays light (no torch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bumpfold.ml.settings import AutoencoderSettings, ClassifierSettings, FlowSettings, KFoldSettings

if TYPE_CHECKING:
    from bumpfold.bumphunt.settings import BumpHuntSettings
    from bumpfold.generate.process import ProcessSpec
    from bumpfold.generate.production import ProductionConfig
    from bumpfold.quality import DataQuality
    from bumpfold.search.settings import SearchSettings
    from bumpfold.skim import Selection
    from bumpfold.unfold.omnifold import OmniFoldSettings
    from bumpfold.unfold.settings import UnfoldSettings

MLP_KEYS = ("mlp_hidden", "mlp_epochs", "mlp_batch_size", "mlp_learning_rate", "mlp_best_epochs", "mlp_inputs")
HGB_KEYS = ("max_iter", "learning_rate", "max_leaf_nodes")
FLOW_KEYS = ("kind", "transforms", "epochs", "batch_size", "learning_rate", "patience", "n_best")


def production_config(generation: dict[str, Any]) -> ProductionConfig:
    """From the ``generation`` section (its ``processes`` are not needed)."""
    from bumpfold.generate.detector import DetectorModel
    from bumpfold.generate.jets import JetConfig
    from bumpfold.generate.production import ProductionConfig, ShowerFilter

    return ProductionConfig(
        sqrt_s=float(generation["sqrt_s"]), mpi=bool(generation["mpi"]),
        leading_jet_pt_min=float(generation["leading_jet_pt_min"]), batch_size=int(generation["batch_size"]),
        match_dr=float(generation["match_dr"]), jets=JetConfig(**generation["jets"]),
        detector=DetectorModel(**generation["detector"]),
        shower_filter=ShowerFilter(**{k: float(v) for k, v in generation["shower_filter"].items()}),
    )


def process_spec(name: str, process: dict[str, Any]) -> ProcessSpec:
    """From one entry of ``generation.processes``."""
    from bumpfold.generate.process import ProcessSpec

    return ProcessSpec(name=name, kind=process["kind"], pthat_min=float(process["pthat_min"]),
                       m_resonance=float(process["m_resonance"]), m_x=float(process["m_x"]), m_y=float(process["m_y"]),
                       topology=str(process["topology"]), settings=tuple(process["pythia_settings"]))


def selection(skim: dict[str, Any]) -> Selection:
    """From the ``skim`` section."""
    from bumpfold.skim import Selection

    return Selection(leading_pt_min=float(skim["leading_pt_min"]), jet_eta_max=float(skim["jet_eta_max"]),
                     delta_eta_max=None if skim["delta_eta_max"] is None else float(skim["delta_eta_max"]))


def data_quality(dataset: dict[str, Any]) -> DataQuality:
    """From one entry of ``datasets`` (NanoAOD files; other datasets get no cuts)."""
    from bumpfold.quality import DataQuality

    quality = dataset.get("quality") or {}
    return DataQuality(is_data=bool(dataset.get("is_data", False)), golden_json=quality.get("golden_json"),
                       lumi_mask_on_simulation=bool(quality.get("lumi_mask_on_simulation", False)),
                       triggers=tuple(quality.get("triggers", ())),
                       event_filters=tuple(quality.get("event_filters", ())),
                       fatjet_id_bit=quality.get("fatjet_id_bit"))


def classifier(section: dict[str, Any], *, device: str, balance_classes: bool = True) -> ClassifierSettings:
    """From a ``classifier`` section (``search.classifier`` or ``unfold.classifier``)."""
    options: dict[str, Any] = {key: section[key] for key in (*HGB_KEYS, *MLP_KEYS)}
    options["mlp_hidden"] = tuple(options["mlp_hidden"])
    return ClassifierSettings(kind=section["kind"], **options, balance_classes=balance_classes, device=device)


def search(section: dict[str, Any]) -> SearchSettings:
    """From the ``search`` section, or the part of it that a workflow step gets (always its
    ``features``; a key left out becomes None). The flow's and the classifiers' seeds are 0
    here: each step sets its own."""
    from bumpfold.search.settings import SearchSettings, SplitSettings

    split = section.get("split")
    return SearchSettings(
        features=tuple(section["features"]),
        split=None if split is None else SplitSettings(split["data_fraction"], split["test_fraction"],
                                                       split["signal_test_fraction"]),
        min_events=section.get("min_events"), closure_fraction=section.get("closure_fraction"),
        oversampling=section.get("oversampling"), cwola_sideband_width=section.get("cwola_sideband_width"),
        flow=search_flow(section) if "flow" in section else None,
        folds=search_folds(section) if "classifier" in section else None,
        autoencoder=search_autoencoder(section) if "autoencoder" in section else None)


def search_autoencoder(search: dict[str, Any]) -> AutoencoderSettings:
    """The jet autoencoder (``search.autoencoder``, ``search.device``)."""
    a = search["autoencoder"]
    return AutoencoderSettings(hidden=tuple(a["hidden"]), latent=a["latent"], epochs=a["epochs"],
                               batch_size=a["batch_size"], learning_rate=a["learning_rate"], n_best=a["n_best"],
                               patience=a["patience"], combine=a["combine"], device=search["device"])


def search_folds(search: dict[str, Any]) -> KFoldSettings:
    """The search's k-fold classifiers (``search.n_folds``, ``search.classifier``, ``search.device``)."""
    return KFoldSettings(n_folds=search["n_folds"], n_ensemble=search["classifier"]["n_ensemble"],
                         classifier=classifier(search["classifier"], device=search["device"]))


def search_flow(search: dict[str, Any]) -> FlowSettings:
    """The search's conditional flow (``search.flow``, ``search.device``)."""
    f = search["flow"]
    return FlowSettings(**{key: f[key] for key in FLOW_KEYS}, hidden=tuple(f["hidden"]), device=search["device"])


def bumphunt(section: dict[str, Any], search: dict[str, Any]) -> BumpHuntSettings:
    """From the ``bumphunt`` section and the search's ``split`` and ``data`` (the data's
    share of the background sample, and whether they are collision data)."""
    from bumpfold.bumphunt.settings import BumpHuntSettings, FitSettings

    return BumpHuntSettings(
        bin_width=section["bin_width"], cl=section["cl"], min_signal_mc=section["min_signal_mc"],
        fit=FitSettings(**section["fit"]), threshold=section["threshold"], quantile_degree=section["quantile_degree"],
        sculpting_correction=bool(section["sculpting_correction"]),
        sculpting_alternative=section["sculpting_alternative"], spurious_signal=float(section["spurious_signal"]),
        selection_bias={sel: {str(e): float(f) for e, f in by_eff.items()}
                        for sel, by_eff in section["selection_bias"].items()},
        signal_models=tuple(section["signal_models"]),
        data_fraction=search["split"]["data_fraction"], observed_data=search.get("data") is not None,
        signal_systematics=tuple(section.get("signal_systematics", {})),
        luminosity_uncertainty=float(section.get("luminosity_uncertainty", 0.0)))


def unfold(section: dict[str, Any]) -> UnfoldSettings:
    """From the ``unfold`` section."""
    from bumpfold.unfold.settings import UnfoldSettings

    return UnfoldSettings(observables=tuple(section["observables"]), pt_min=float(section["pt_min"]),
                          bins=section["bins"], ibu_reco_bins=section["ibu_reco_bins"], members=section["members"],
                          omnifold=omnifold(section), generative=generative_flow(section["generative"]))


def generative_flow(generative: dict[str, Any]) -> FlowSettings:
    """Generative unfolding's flow (``unfold.generative``)."""
    return FlowSettings(**{key: generative[key] for key in FLOW_KEYS}, hidden=tuple(generative["hidden"]),
                        device=generative["device"])


def omnifold(unfold: dict[str, Any]) -> OmniFoldSettings:
    """OmniFold's iterations and classifier (``unfold``). OmniFold balances its event weights
    itself, so the classifier's class weighting is off."""
    from bumpfold.unfold.omnifold import OmniFoldSettings

    c = unfold["classifier"]
    return OmniFoldSettings(iterations=unfold["iterations"], max_ratio=c["max_ratio"],
                            classifier=classifier(c, device=c["device"], balance_classes=False))
