"""The installed distribution's version (``cifar-zoo``), read once."""

from importlib import metadata

try:
    __version__ = metadata.version("cifar-zoo")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
