"""The models' public face: ``build_model``, ``get_entry``, ``list_models``, ``register_model`` and
``PretrainedModel``, with every family registered (importing this package imports each entry module).

The machinery and the official entries live in ``dynskip.zoo``; the methods' entries in
``dynskip.methods.*.models``. Both import ``dynskip.zoo`` only, never this package.
"""

# Registration side effects: one module per model family.
from dynskip.methods.skipvsr import models as _skipvsr_v2  # noqa: F401  (skipvsr-v2)
from dynskip.methods.skipvsr.v1 import models as _skipvsr  # noqa: F401  (skipvsr)
from dynskip.methods.ugsp import models as _ugsp  # noqa: F401  (ugsp, ugsp-rife)
from dynskip.zoo import basicvsr as _basicvsr  # noqa: F401  (basicvsr)
from dynskip.zoo import rife as _rife  # noqa: F401  (rife)
from dynskip.zoo.registry import PretrainedModel, build_model, get_entry, list_models, register_model

__all__ = ["PretrainedModel", "build_model", "get_entry", "list_models", "register_model"]
