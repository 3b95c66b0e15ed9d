"""Loading the workflow's pickled models without letting a crafted file run code.

The fold classifiers (scikit-learn boosted trees or bumpfold's MLP) and ANODE's flows are
pickles, and a pickle can name any function to call when it is loaded. This loader resolves
only classes of the packages the models are made of (bumpfold, scikit-learn, NumPy, SciPy)
and the few reconstruction helpers their pickles use; anything else (``os.system``,
``builtins.eval``, ``torch.load`` ...) stops the load with one clear message. bumpfold's own
torch-based models pickle their weights as NumPy arrays, so no torch code is needed either.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from bumpfold.errors import BumpfoldInputError, one_line

TRUSTED_PACKAGES = ("bumpfold", "sklearn", "numpy", "scipy")
# the functions (not classes) that these packages' pickles call to rebuild objects
RECONSTRUCTORS = {
    ("copyreg", "_reconstructor"), ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.random._pickle", "__bit_generator_ctor"), ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"), ("bumpfold.ml.flow", "_flow_from_payload"),
}
SAFE_BUILTINS = {"set", "frozenset", "slice", "complex", "range", "bytearray", "dict", "list", "tuple", "object"}


class _TrustedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in RECONSTRUCTORS or (module == "builtins" and name in SAFE_BUILTINS) or \
                (module == "collections" and name in ("OrderedDict", "defaultdict")):
            return super().find_class(module, name)
        if module.split(".")[0] in TRUSTED_PACKAGES:
            found = super().find_class(module, name)
            # classes, and the Cython pickle helpers of scikit-learn's compiled objects
            if isinstance(found, type) or name.startswith("__pyx_unpickle"):
                return found
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def load(path: str | Path, *, what: str) -> Any:
    """Unpickle ``path`` (``what`` names its content in messages) with the trusted loader."""
    path = Path(path)
    if not path.is_file():
        raise BumpfoldInputError(f"{path}: no such file ({what})")
    try:
        with open(path, "rb") as f:
            return _TrustedUnpickler(f).load()
    except Exception as exc:  # refused, truncated or foreign content
        raise BumpfoldInputError(f"{path}: not loadable as {what} ({one_line(exc)})") from exc
