"""Exception types of recfusion.

Every message names the component, the parameter, column or file, what was expected,
what was received, and a hint where one helps.
"""

from __future__ import annotations


class RecfusionError(Exception):
    """Base class of every error recfusion raises on purpose."""


class InputError(RecfusionError, ValueError):
    """A file, column, row or value supplied by the user is not usable."""


class ConfigError(RecfusionError, ValueError):
    """A configuration key or value is invalid."""


class NotFittedError(RecfusionError, RuntimeError):
    """A strategy was asked for recommendations before ``fit``."""


class BundleError(RecfusionError):
    """A saved model bundle is missing, tampered with, truncated or of another version."""


class MissingDependencyError(RecfusionError, ImportError):
    """An optional dependency or built-in dataset is not installed."""


__all__ = sorted(
    [
        "BundleError",
        "ConfigError",
        "InputError",
        "MissingDependencyError",
        "NotFittedError",
        "RecfusionError",
    ]
)
