"""A stand-in for the `conda` command, for tests/test_environment.py where conda is absent.

It answers the calls Snakemake 9 makes for `--use-conda` (`conda info --json`, `conda
--version`, `conda config --get channel_priority --json`, `conda env create --file F
--prefix P`, `conda clean`), and builds an environment the way conda does for the parts that concern
bumpfold: a Python of the version the file asks for (a venv of this interpreter, which must
match) and the file's `pip:` section installed as conda installs it, written to a
requirements file beside the environment file and run with `pip install -U -r` from that
folder (so a relative path in it resolves from where Snakemake copied the file, as with
conda). Conda packages other than python and pip are refused, as it cannot provide them.
`<prefix>/bin/activate ENV` (written by the test) puts ENV/bin first on PATH.

Any other call exits 2 and names itself, so a new Snakemake that needs more shows up as a
clear test failure instead of a wrong environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

import yaml

VERSION = "24.11.3"  # >= the minimum Snakemake 9 accepts (24.7.1)


def _create(env_file: Path, prefix: Path) -> None:
    spec = yaml.safe_load(env_file.read_text())
    pip_section: list[str] = []
    for dep in spec.get("dependencies", []):
        if isinstance(dep, dict):
            pip_section += [str(line) for line in dep.get("pip", [])]
        elif dep.split("=")[0] == "python":
            wanted = dep.split("=", 1)[1].lstrip("=")
            have = f"{sys.version_info.major}.{sys.version_info.minor}"
            if not have.startswith(wanted):
                sys.exit(f"fake conda: {env_file} asks for python={wanted}, this stand-in has {have}")
        elif dep != "pip":
            sys.exit(f"fake conda: cannot provide the conda package {dep!r}")
    venv.EnvBuilder(with_pip=bool(pip_section), symlinks=True).create(prefix)
    if pip_section:
        workdir = env_file.resolve().parent
        with tempfile.NamedTemporaryFile("w", dir=workdir, prefix="condaenv.", suffix=".requirements.txt",
                                         delete=False) as req:
            req.write("\n".join(pip_section) + "\n")
        try:
            subprocess.run([str(prefix / "bin" / "python"), "-m", "pip", "install", "-U", "-r", req.name,
                            "--exists-action=b"], cwd=workdir, check=True)
        finally:
            os.unlink(req.name)


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve()
    prefix = os.environ["FAKE_CONDA_PREFIX"]
    if argv == ["--version"]:
        print(f"conda {VERSION}")
    elif argv == ["info", "--json"]:
        print(json.dumps({"conda_prefix": prefix, "root_prefix": prefix, "platform": "linux-64",
                          "conda_version": VERSION, "envs_dirs": [], "stand_in": str(root)}))
    elif argv == ["config", "--get", "channel_priority", "--json"]:
        print(json.dumps({"get": {"channel_priority": "strict"}, "rc_path": None, "success": True, "warnings": []}))
    elif argv[:1] == ["clean"]:
        pass  # no package cache to clean
    elif argv[:2] == ["env", "create"] and "--file" in argv and "--prefix" in argv:
        _create(Path(argv[argv.index("--file") + 1]), Path(argv[argv.index("--prefix") + 1]))
    else:
        print(f"fake conda: unsupported call: conda {' '.join(argv)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
