"""Command line for single steps, without Snakemake.

    bumpfold generate --process qcd --events 1000 -o qcd.root [--config config.yaml]
    bumpfold skim FILES... -o out.parquet [--cutflow out.json] [--config config.yaml [--dataset NAME]]
    bumpfold lhco events_anomalydetection_v2.features.h5 -o lhco.parquet [--label 0|1]
    bumpfold validate config.yaml
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from bumpfold.config import load_config, process_id, validate_config
from bumpfold.errors import BumpfoldInputError
from bumpfold.io.atomic import write_json
from bumpfold.logs import job_logging
from bumpfold.settings import data_quality, process_spec, production_config, selection


def _config(path: str | None) -> dict:
    return load_config(path) if path else validate_config({})


def _generate(args: argparse.Namespace) -> None:
    from bumpfold.generate.production import produce_chunk

    config = _config(args.config)
    if args.process not in config["generation"]["processes"]:
        raise BumpfoldInputError(f"--process {args.process!r}: not in generation.processes "
                                 f"({', '.join(config['generation']['processes'])})")
    generation = config["generation"]
    summary = produce_chunk(process_spec(args.process, generation["processes"][args.process]),
                            process_id=process_id(config, args.process), chunk=args.chunk, n_events=args.events,
                            base_seed=config["seed"], config=production_config(generation), output=args.output)
    print(json.dumps(summary.__dict__, indent=2))


def _skim(args: argparse.Namespace) -> None:
    from bumpfold.skim import skim_files, write_table

    config = _config(args.config)
    cutflow_path = args.cutflow or str(Path(args.output).with_suffix(".cutflow.json"))
    _refuse_to_overwrite_inputs(args.files, [args.output, cutflow_path])
    if args.dataset is not None and args.dataset not in config["datasets"]:
        raise BumpfoldInputError(f"--dataset {args.dataset}: not in the config's datasets "
                                 f"({', '.join(config['datasets'])})")
    quality = data_quality(config["datasets"][args.dataset] if args.dataset else {})
    table, cutflow = skim_files(args.files, selection(config["skim"]), tree=args.tree, dataset=Path(args.output).stem,
                                quality=quality, events_per_read=config["skim"]["events_per_read"])
    write_table(table, cutflow, args.output, cutflow_path)
    print(json.dumps({cut: cutflow["cutflow"][cut] for cut in cutflow["cuts"]}))


def _refuse_to_overwrite_inputs(inputs: Sequence[str], outputs: Sequence[str]) -> None:
    read = {Path(p).resolve() for p in inputs}
    for out in outputs:
        if Path(out).resolve() in read:
            raise BumpfoldInputError(f"{out}: is an input of this command; refusing to overwrite it")


def _lhco(args: argparse.Namespace) -> None:
    from bumpfold.io.atomic import atomic_path
    from bumpfold.io.lhco import read_lhco_features

    _refuse_to_overwrite_inputs([args.file], [args.output])
    table = read_lhco_features(args.file, key=args.key, label=args.label)
    with atomic_path(args.output) as tmp:
        table.to_parquet(tmp, index=False)
    print(f"{len(table)} events -> {args.output}")


def _validate(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    if args.resolved:
        write_json(config, args.resolved)
    resolved = f"; resolved config (defaults filled in) -> {args.resolved}" if args.resolved else ""
    print(f"{args.config}: valid{resolved}")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bumpfold", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="one chunk of Pythia 8 events -> NanoAOD-like ROOT")
    g.add_argument("--process", required=True, help="a name from generation.processes")
    g.add_argument("--events", type=int, required=True)
    g.add_argument("--chunk", type=int, default=0, help="chunk number (enters the seed)")
    g.add_argument("--config", help="YAML config (default: the schema defaults)")
    g.add_argument("-o", "--output", required=True)
    g.set_defaults(func=_generate)

    s = sub.add_parser("skim", help="NanoAOD files -> dijet feature table (Parquet) + cutflow JSON")
    s.add_argument("files", nargs="+")
    s.add_argument("--tree", default="Events")
    s.add_argument("--config", help="YAML config whose skim section is used (default: schema defaults)")
    s.add_argument("--dataset", help="apply the data-quality cuts (is_data, quality) of this dataset of --config")
    s.add_argument("--cutflow", help="cutflow JSON path (default: OUTPUT with .cutflow.json)")
    s.add_argument("-o", "--output", required=True)
    s.set_defaults(func=_skim)

    h = sub.add_parser("lhco", help="LHC Olympics features .h5 (R&D set or black box) -> feature table (Parquet)")
    h.add_argument("file")
    h.add_argument("--key", help="HDF5 key if the file holds several objects")
    h.add_argument("--label", type=int, choices=[0, 1], help="keep only the events of this label (R&D set)")
    h.add_argument("-o", "--output", required=True)
    h.set_defaults(func=_lhco)

    v = sub.add_parser("validate", help="check a config file against the schema")
    v.add_argument("config")
    v.add_argument("--resolved", help="also write the config with every default filled in (JSON)")
    v.set_defaults(func=_validate)
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    with job_logging():
        args.func(args)


if __name__ == "__main__":
    main()
