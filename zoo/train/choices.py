"""The names training accepts: declared once in zoo._choices, named here for zoo.train's modules."""

from .._choices import (
    LOSSES,
    MOMENTUM_FREE_OPTIMIZERS,
    OPTIMIZERS,
    PER_STEP_SCHEDULERS,
    PRECISIONS,
    SCHEDULERS,
    TTA_MODES,
)

__all__ = [
    "LOSSES",
    "MOMENTUM_FREE_OPTIMIZERS",
    "OPTIMIZERS",
    "PER_STEP_SCHEDULERS",
    "PRECISIONS",
    "SCHEDULERS",
    "TTA_MODES",
]
