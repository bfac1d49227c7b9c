"""Single source of the package version (read by hatch and by ``biojepa.__version__``)."""

__version__ = "0.1.0.dev0"
