"""The software environments and the package's metadata: envs/bumpfold.yaml (the conda
environment of `snakemake --use-conda`), requirements.lock (the released environment),
the dependencies pyproject.toml declares, LICENSE and CITATION.cff.

Conda is not needed: tests/fake_conda.py stands in for it (it builds an environment from
the same YAML file, its pip section installed the way conda installs it)."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

import bumpfold
from tests.conftest import ROOT

ENV_FILE = ROOT / "envs" / "bumpfold.yaml"
LOCK_FILE = ROOT / "requirements.lock"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
# the torch the Makefile installs first (a CPU build of it where one is at hand)
TORCH = "torch==2.13.0"
# declared but not imported by src/bumpfold, each for a reason
NOT_IMPORTED = {
    "snakemake": "runs the workflow (Snakefile, workflow/rules)",
    "snakemake-executor-plugin-slurm": "profiles/slurm",
    "coffea": "the tests check the golden-JSON lookup against coffea's LumiMask; jobs do not import it (its "
              "import costs ~6 s per job, BENCHMARKS.md); versions recorded in provenance",
}


def _requirements(lines: list[str]) -> dict[str, Requirement]:
    out = {}
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in out, f"{req.name} listed twice"
        out[name] = req
    return out


def _pip_section() -> list[str]:
    env = yaml.safe_load(ENV_FILE.read_text())
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert len(sections) == 1
    return [str(line) for line in sections[0]]


def _lock() -> dict[str, Version]:
    pins = {}
    for line in LOCK_FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and name.strip() == name and " " not in version, f"not a plain pin: {line!r}"
        assert canonicalize_name(name) not in pins, f"{name} pinned twice"
        pins[canonicalize_name(name)] = Version(version)
    return pins


# -- envs/bumpfold.yaml -------------------------------------------------------------------


def test_the_conda_environment_pins_what_pyproject_pins():
    env = yaml.safe_load(ENV_FILE.read_text())
    assert f"python={PROJECT['requires-python'].removeprefix('>=')}" in env["dependencies"]
    # the jobs of a dataset of root:// URLs read them in this environment: the xrootd extra too
    declared = _requirements(PROJECT["dependencies"] + PROJECT["optional-dependencies"]["xrootd"])
    in_env = _requirements(_pip_section())
    assert sorted(in_env) == sorted(declared)
    for name, req in declared.items():
        assert in_env[name].specifier == req.specifier, name
        assert (in_env[name].extras, in_env[name].marker) == (req.extras, req.marker), name


def test_the_conda_environment_installs_nothing_from_a_path():
    """Snakemake copies the file to .snakemake/conda/<hash>.yaml (or --conda-prefix) and
    conda runs pip from there, so a path such as `-e ../` (the old last line) points into
    .snakemake/: every line must be a plain requirement (name and version specifier)."""
    for line in _pip_section():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            pytest.fail(f"{line!r} in {ENV_FILE.name} is a pip option or a path, not a requirement")
        assert req.url is None, f"{line!r} installs from a URL or path"
    assert not any(canonicalize_name(Requirement(line).name) == "bumpfold" for line in _pip_section())


def _imported_top_level_modules(folder: Path) -> set[str]:
    modules = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - {"bumpfold", "__future__"}


def test_pyproject_declares_what_the_library_imports_and_nothing_else():
    declared = set(_requirements(PROJECT["dependencies"]))
    distributions = importlib.metadata.packages_distributions()
    imported = set()
    for module in _imported_top_level_modules(ROOT / "src" / "bumpfold"):
        names = {canonicalize_name(d) for d in distributions.get(module, [])}
        assert names & declared, f"src/bumpfold imports {module} (from {sorted(names) or 'nowhere'}): not declared"
        imported |= names & declared
    assert declared - imported == set(NOT_IMPORTED), "declared but imported nowhere in src/bumpfold"


# -- requirements.lock, the released environment ------------------------------------------


def test_the_lock_pins_every_dependency_within_pyproject():
    pins = _lock()
    extras = PROJECT["optional-dependencies"]
    wanted = PROJECT["dependencies"] + extras["test"] + extras["xrootd"]  # what `make install` installs
    for name, req in _requirements(wanted).items():
        assert name in pins, f"{req.name} is not pinned in {LOCK_FILE.name}"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} outside {req}"
    assert "bumpfold" not in pins and pins["torch"] == Version(TORCH.split("==")[1])
    # the header says how to install from it and how to make it again; the Makefile does it
    header = LOCK_FILE.read_text().split("# ---")[0]
    install = "python -m pip install -r requirements.lock && python -m pip install --no-deps -e ."
    assert install in header and "pip freeze --all --exclude-editable" in header
    target = (ROOT / "Makefile").read_text().split("\ninstall-locked:")[1].split("\n\n")[0]
    assert "pip install -q -r requirements.lock" in target and "pip install -q --no-deps -e ." in target


def _dry_run(requirements: Path, *options: str) -> dict[str, Version]:
    """What `pip install -r requirements` would install here (a dry run: metadata only, from
    the package index), as name -> version."""
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                             "--report", "-", "-r", requirements.name, *options],
                            cwd=requirements.parent, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return {canonicalize_name(item["metadata"]["name"]): Version(item["metadata"]["version"])
            for item in json.loads(result.stdout)["install"]}


def test_the_lock_installs_as_it_is():
    """pip resolves the lock with dependencies (a dry run against the package index) to
    exactly its pins: nothing missing, nothing conflicting, every pin released for 3.11."""
    resolved = {name: Version(version.public) for name, version in _dry_run(LOCK_FILE).items()}
    assert resolved == _lock()


# -- LICENSE, CITATION.cff -----------------------------------------------------------------


def test_license_and_citation_agree_with_pyproject():
    license_text = (ROOT / "LICENSE").read_text()
    assert PROJECT["license"] == "BSD-3-Clause" and PROJECT["license-files"] == ["LICENSE"]
    assert license_text.startswith("BSD 3-Clause License\n")
    assert "Copyright (c) 2026, The bumpfold developers" in license_text
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert str(cff["version"]) == PROJECT["version"] == bumpfold.__version__
    assert cff["license"] == "BSD-3-Clause" and cff["authors"] == [{"name": "The bumpfold developers"}]
    cited = json.dumps(cff["references"])
    for paper in ("2109.00546", "1911.09107", "1805.02664", "2210.14924", "2001.04990", "2309.13111",
                  "2101.08320", "CMS-PAS-EXO-22-026", "joss.02823", "2203.11601", "1111.6097"):
        assert paper in cited, paper
    for ref in cff["references"]:
        assert {"type", "title", "authors"} <= set(ref), ref.get("title")


# -- building the environment ---------------------------------------------------------------


@pytest.fixture()
def fake_conda(tmp_path) -> dict[str, str]:
    """PATH and variables for a snakemake run with tests/fake_conda.py as `conda`."""
    prefix = tmp_path / "fake-conda"
    (prefix / "bin").mkdir(parents=True)
    conda = prefix / "bin" / "conda"
    conda.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "tests" / "fake_conda.py"}" "$@"\n')
    conda.chmod(0o755)
    (prefix / "bin" / "activate").write_text('export PATH="$1/bin:$PATH"\nexport CONDA_PREFIX="$1"\n')
    return {**os.environ, "PATH": f"{prefix / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "FAKE_CONDA_PREFIX": str(prefix)}


def _run_snakemake(workdir: Path, env: dict[str, str], conda_prefix: Path, timeout: int) -> None:
    result = subprocess.run([sys.executable, "-m", "snakemake", "--use-conda", "--conda-prefix", str(conda_prefix),
                             "--cores", "1"], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_script_jobs_in_a_conda_environment_import_this_checkouts_bumpfold(tmp_path, fake_conda):
    """The route by which bumpfold reaches the jobs: the environment (envs/bumpfold.yaml's
    conda part, its pip section left out here for speed) does not contain bumpfold; a
    `script:` job run in it under `--use-conda`, with the environments kept somewhere else
    (--conda-prefix), imports the bumpfold that the snakemake process imports, i.e. this
    checkout's, as Snakemake starts every script with the search path of that process."""
    env = yaml.safe_load(ENV_FILE.read_text())
    env["dependencies"] = [d for d in env["dependencies"] if not isinstance(d, dict)]
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "env.yaml").write_text(yaml.safe_dump(env))
    (workdir / "Snakefile").write_text(textwrap.dedent("""\
        rule probe:
            output: "probe.json"
            conda: "env.yaml"
            script: "probe.py"
        """))
    (workdir / "probe.py").write_text(textwrap.dedent("""\
        import json, sys
        import bumpfold
        with open(snakemake.output[0], "w") as f:
            json.dump({"prefix": sys.prefix, "bumpfold": bumpfold.__file__}, f)
        """))
    envs = tmp_path / "shared" / "conda-envs"
    _run_snakemake(workdir, fake_conda, envs, timeout=300)
    probe = json.loads((workdir / "probe.json").read_text())
    prefix = Path(probe["prefix"])
    assert prefix.parent == envs, "the job did not run in the environment"
    assert not list(prefix.glob("lib/python*/site-packages/bumpfold*")), "the environment holds a bumpfold"
    assert Path(probe["bumpfold"]).resolve() == Path(bumpfold.__file__).resolve()


def test_the_conda_environments_pip_section_resolves_where_snakemake_builds_it(tmp_path):
    """pip resolves the pip section (needs the package index) from the folder Snakemake
    copies the file to, as conda runs it: every dependency has a release on this Python
    (the environment's, 3.11) and the specifiers are compatible. torch is held at the
    Makefile's 2.13.0. A dry run: nothing is downloaded beyond metadata, nothing installed."""
    env = yaml.safe_load(ENV_FILE.read_text())
    assert f"python={sys.version_info.major}.{sys.version_info.minor}" in env["dependencies"]
    where = tmp_path / ".snakemake" / "conda"
    where.mkdir(parents=True)
    shutil.copy(ENV_FILE, where / "0123456789abcdef_.yaml")
    (where / "condaenv.requirements.txt").write_text("\n".join(_pip_section()) + "\n")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(TORCH + "\n")
    resolved = _dry_run(where / "condaenv.requirements.txt", "-c", str(constraints))
    for name, req in _requirements(PROJECT["dependencies"]).items():
        assert name in resolved and req.specifier.contains(resolved[name], prereleases=True), name
    assert "bumpfold" not in resolved


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("BUMPFOLD_BUILD_ENV") != "1",
                    reason="builds envs/bumpfold.yaml in full (about 3 min, 2 GB): set BUMPFOLD_BUILD_ENV=1")
def test_the_conda_environment_builds_and_imports_the_whole_library(tmp_path, fake_conda):
    """envs/bumpfold.yaml itself, built under `snakemake --use-conda` (fake conda: a venv and
    its pip section), runs a job that imports every module of bumpfold with nothing on its
    search path but the environment, the Python it was made from and the checkout's src/:
    the environment is complete for the library."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "Snakefile").write_text(textwrap.dedent(f"""\
        rule probe:
            output: "probe.json"
            params: src={str(ROOT / "src")!r}
            conda: {str(ENV_FILE)!r}
            script: "probe.py"
        """))
    (workdir / "probe.py").write_text(textwrap.dedent("""\
        import importlib, json, os, pkgutil, sys
        src = snakemake.params.src
        roots = (sys.prefix, sys.base_prefix, src)
        sys.path[:] = [p for p in sys.path if p.startswith(roots)]  # the host's paths go
        import bumpfold
        names = [m.name for m in pkgutil.walk_packages(bumpfold.__path__, "bumpfold.")]
        for name in names:
            importlib.import_module(name)
        import torch
        files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
        outside = sorted(f for f in files if f and os.path.isabs(f) and not f.startswith(roots) and f != __file__)
        with open(snakemake.output[0], "w") as f:
            json.dump({"prefix": sys.prefix, "bumpfold": bumpfold.__file__, "modules": names,
                       "outside": outside, "torch": torch.__version__}, f)
        """))
    (tmp_path / "constraints.txt").write_text(TORCH + "\n")  # the CPU build, as the Makefile installs
    _run_snakemake(workdir, {**fake_conda, "PIP_CONSTRAINT": str(tmp_path / "constraints.txt")},
                   workdir / ".snakemake" / "conda", timeout=1800)
    probe = json.loads((workdir / "probe.json").read_text())
    assert Path(probe["prefix"]).parent == workdir / ".snakemake" / "conda"
    assert Path(probe["bumpfold"]).is_relative_to(ROOT / "src")
    assert len(probe["modules"]) > 20 and probe["outside"] == []  # no module from outside
    assert probe["torch"].startswith("2.13.0")
