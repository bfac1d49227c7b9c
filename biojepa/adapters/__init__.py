"""biojepa.adapters."""
