"""The names training accepts: declared once in zoo._choices, named here for zoo.train's modules."""

from .._choices import (
    FLIP_MODES,
    LOSSES,
    MOMENTUM_FREE_OPTIMIZERS,
    OPTIMIZERS,
    PADDING_MODES,
    PER_STEP_SCHEDULERS,
    PRECISIONS,
    SCHEDULERS,
    TTA_MODES,
)

__all__ = [
    "FLIP_MODES",
    "LOSSES",
    "MOMENTUM_FREE_OPTIMIZERS",
    "OPTIMIZERS",
    "PADDING_MODES",
    "PER_STEP_SCHEDULERS",
    "PRECISIONS",
    "SCHEDULERS",
    "TTA_MODES",
]
