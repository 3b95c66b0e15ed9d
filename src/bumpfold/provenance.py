"""Provenance of a result: the resolved config (every default filled in), its seed, the
versions of the packages that made it, and the git commit of the workflow.

JSON results carry it as a ``provenance`` block, PNG plots as a text chunk, PDF plots in
their document information and Parquet tables as schema metadata (all under the key
``bumpfold:provenance``), markdown tables as a closing comment. Nothing time-dependent goes
in, so two fresh runs with the same config and seed give identical results. A job keeps the
config it ran with: after a config edit that does not rerun it, its record shows the config
of its own run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bumpfold.io.atomic import atomic_path, write_json

PACKAGES = ("bumpfold", "snakemake", "numpy", "scipy", "pandas", "torch", "zuko", "scikit-learn", "pyhf",
            "uproot", "awkward", "coffea", "pythia8mc", "fastjet", "matplotlib")
KEY = "bumpfold:provenance"


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(where: str | Path = ".") -> str:
    """HEAD of the checkout the workflow runs in, marked when tracked files differ from it."""
    def git(*args: str) -> str:
        # no optional locks: many jobs asking at once must not contend for the index lock
        return subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, check=True,
                              timeout=30, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"}).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + (" (with local changes)" if dirty else "")


def config_digest(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def provenance(config: dict[str, Any], where: str | Path = ".") -> dict[str, Any]:
    """``where``: a folder of the workflow's checkout (the scripts pass their own folder)."""
    # plain JSON types (Snakemake's config is a dict subclass)
    config = json.loads(json.dumps(dict(config), default=str))
    return {"git_commit": git_commit(where), "seed": config.get("seed"), "config_sha256": config_digest(config),
            "packages": package_versions(), "python": platform.python_version(), "config": config}


def stamp_json(path: str | Path, record: dict[str, Any]) -> None:
    """Add the ``provenance`` block to a JSON object file (rewritten atomically)."""
    payload = json.loads(Path(path).read_text())
    if not isinstance(payload, dict):
        raise ValueError(f"{path}: provenance goes into a JSON object, this file holds a {type(payload).__name__}")
    write_json({**payload, "provenance": record}, path)


def _png_text(image: Any, path: str | Path) -> dict[str, str]:
    """The text chunks of an opened image, which must be a PNG."""
    from PIL import PngImagePlugin

    if not isinstance(image, PngImagePlugin.PngImageFile):
        raise ValueError(f"{path}: not a PNG image ({image.format})")
    return dict(image.text)


def stamp_png(path: str | Path, record: dict[str, Any]) -> None:
    """Store the provenance in the PNG as a text chunk (lossless re-save)."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    with Image.open(path) as image:
        image.load()
        for key, value in _png_text(image, path).items():
            if key != KEY:
                info.add_text(key, value)
        info.add_text(KEY, json.dumps(record, sort_keys=True))
        extra = {"dpi": image.info["dpi"]} if "dpi" in image.info else {}
        with atomic_path(path) as tmp:
            image.save(tmp, format="PNG", pnginfo=info, **extra)


PDF_ENTRY = rb"/bumpfold:provenance <([0-9a-f]*)>"  # a hex string: JSON needs no PDF escaping


def _pdf_field(pattern: bytes, data: bytes, path: str | Path) -> bytes:
    found = re.search(pattern, data, re.S)
    if found is None:
        raise ValueError(f"{path}: no PDF trailer with an Info dictionary (as matplotlib writes) to stamp")
    return found.group(1)


def stamp_pdf(path: str | Path, record: dict[str, Any]) -> None:
    """Store the provenance in the PDF's document information, as an incremental update (PDF
    1.7, 7.5.6): the figure's bytes stay; the Info dictionary with the record added, its
    cross-reference entry and a trailer are appended. A re-stamp appends again; readers,
    and :func:`read_provenance`, take the last."""
    data = Path(path).read_bytes()
    tail = data[data.rfind(b"trailer"):]  # the classic (uncompressed) trailer matplotlib writes
    info, root, size = (_pdf_field(key, tail, path) for key in (rb"/Info (\d+) 0 R", rb"/Root (\d+ \d+ R)",
                                                                 rb"/Size (\d+)"))
    prev = _pdf_field(rb".*startxref\s+(\d+)", data, path)
    entries = _pdf_field(rb".*\n%s 0 obj\s*<<(.*?)>>\s*endobj" % info, data, path)
    entries = re.sub(rb"\s*" + PDF_ENTRY, b"", entries).strip()
    body = data if data.endswith(b"\n") else data + b"\n"
    obj = b"%s 0 obj\n<< %s /bumpfold:provenance <%s> >>\nendobj\n" % (
        info, entries, json.dumps(record, sort_keys=True).encode().hex().encode())
    # the free-list head first, as some readers expect a zero-indexed table
    xref = b"xref\n0 1\n0000000000 65535 f \n%s 1\n%010d 00000 n \n" % (info, len(body))
    trailer = b"trailer\n<< /Size %s /Root %s /Info %s 0 R /Prev %s >>\nstartxref\n%d\n%%%%EOF\n" % (
        size, root, info, prev, len(body) + len(obj))
    with atomic_path(path) as tmp:
        tmp.write_bytes(body + obj + xref + trailer)


def stamp_parquet(path: str | Path, record: dict[str, Any]) -> None:
    """Store the provenance in the Parquet schema metadata (the table is unchanged)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    metadata = {**(table.schema.metadata or {}), KEY.encode(): json.dumps(record, sort_keys=True).encode()}
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(metadata), tmp)


def read_provenance(path: str | Path) -> dict[str, Any]:
    """The provenance stored in a stamped .json, .png, .pdf or .parquet result."""
    path = Path(path)
    if path.suffix not in (".json", ".png", ".pdf", ".parquet"):
        raise ValueError(f"{path}: provenance is read from .json, .png, .pdf and .parquet results")
    if path.suffix == ".json":
        return json.loads(path.read_text())["provenance"]
    if path.suffix == ".pdf":  # the last stamp's
        return json.loads(bytes.fromhex(re.findall(PDF_ENTRY, path.read_bytes())[-1].decode()))
    if path.suffix == ".png":
        from PIL import Image

        with Image.open(path) as image:
            return json.loads(_png_text(image, path)[KEY])
    import pyarrow.parquet as pq

    return json.loads(pq.read_schema(path).metadata[KEY.encode()])


def markdown_footer(record: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in record["packages"].items() if v != "not installed")
    return (f"\n<!-- provenance: bumpfold workflow at git {record['git_commit']}; seed {record['seed']}; "
            f"resolved config sha256 {record['config_sha256']} (full config in the JSON results' provenance "
            f"block); python {record['python']}; {versions} -->\n")


def stamp_markdown(path: str | Path, record: dict[str, Any]) -> None:
    text = Path(path).read_text().split("\n<!-- provenance:")[0].rstrip("\n") + "\n"
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text + markdown_footer(record))


def stamp(paths: list[str | Path], record: dict[str, Any]) -> None:
    """Stamp each final output by its kind (.json, .png, .pdf, .parquet, .md)."""
    stampers = {".json": stamp_json, ".png": stamp_png, ".pdf": stamp_pdf, ".md": stamp_markdown,
                ".parquet": stamp_parquet}
    for path in paths:
        if Path(path).suffix not in stampers:
            raise ValueError(f"{path}: no provenance stamp for {Path(path).suffix!r} files ({', '.join(stampers)})")
        stampers[Path(path).suffix](path, record)
