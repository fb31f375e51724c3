"""The version, written once: the package face and ``setup.cfg`` (``attr:``) read it here."""

__version__ = "0.1.0.dev0"
