"""biojepa.nn."""
