"""skip"""

from dynskip.skip.cost import (  # noqa: F401  (re-exports)
    chain_macs_per_pixel,
    conv_macs,
    count_conv_macs,
    count_macs,
    masked_chain_macs,
    residual_skip_macs,
    tile_chain_macs,
)
from dynskip.skip.engine import (  # noqa: F401  (re-exports)
    masked_chain,
    masked_chain_dense,
    masked_conv,
    masked_conv_dense,
    residual_reuse_chain,
    residual_skip,
    residual_skip_chain,
    residual_skip_dense,
)
from dynskip.skip.fallback import (  # noqa: F401  (re-exports)
    CUTOVERS,
    DEFAULT_DENSE_ABOVE,
    clear_fallback_cache,
    dense_above,
)
from dynskip.skip.plan import TileCanvas, TilePlan  # noqa: F401  (re-exports)
from dynskip.skip.protocol import (  # noqa: F401  (re-exports)
    EXECUTION_MODES,
    ExecutionMode,
    SkipKnobs,
    SkippingModel,
    SkipRecorder,
    SkipReport,
    SkipUnit,
    UnitReport,
    execution_mode,
)
from dynskip.skip.steps import ConvStep, parse_steps  # noqa: F401  (re-exports)
from dynskip.skip.tiles import (  # noqa: F401  (re-exports)
    active_fraction,
    dilate_tiles,
    pixel_to_tile,
    random_tile_mask,
    resize_tile_mask,
    tile_grid_shape,
    tile_statistics,
    tile_to_pixel,
)
