"""Model registry. Importing this package registers every model."""

# Registration side effects: one module per model family.
from dynskip.methods.skipvsr import models as _skipvsr_v2  # noqa: F401  (skipvsr-v2)
from dynskip.methods.skipvsr.v1 import models as _skipvsr  # noqa: F401  (skipvsr)
from dynskip.methods.ugsp import models as _ugsp  # noqa: F401  (ugsp, ugsp-rife)
from dynskip.models import basicvsr as _basicvsr  # noqa: F401
from dynskip.models import rife as _rife  # noqa: F401
from dynskip.models.registry import PretrainedModel, build_model, get_entry, list_models, register_model

__all__ = ["PretrainedModel", "build_model", "get_entry", "list_models", "register_model"]
