"""Typed errors of biojepa.

Every error says what was found, what was expected and how to fix it. The CLI maps them to exit codes:
:class:`ConfigError`, :class:`UnknownNameError` and :class:`NotAvailableError` exit 2 (usage), everything
else exits 1 (runtime).

Hierarchy::

    BioJepaError
    ├── ConfigError                      invalid recipe / override / argument   (exit 2)
    ├── UnknownNameError (also KeyError) unknown registry name                  (exit 2)
    ├── NotAvailableError                a command whose modality has not landed (exit 2)
    ├── OptionalDependencyError (also ImportError)  an extra is not installed
    ├── DataError
    │   ├── CorruptRecordError           a record cannot be read / is invalid
    │   ├── UndefinedMetricError         a metric is undefined on this data (one class only, ...)
    │   └── ContractError                input does not match a model's signal contract
    ├── CheckpointError                  missing / truncated / tampered checkpoint or model directory
    ├── NonFiniteLossError               too many consecutive non-finite steps
    └── TrainingInterrupted              stopped by SIGTERM after a checkpoint   (exit 143)
"""

from __future__ import annotations

__all__ = [
    "BioJepaError",
    "CheckpointError",
    "ConfigError",
    "ContractError",
    "CorruptRecordError",
    "DataError",
    "NonFiniteLossError",
    "NotAvailableError",
    "OptionalDependencyError",
    "TrainingInterrupted",
    "UndefinedMetricError",
    "UnknownNameError",
]


class BioJepaError(Exception):
    """Base class of every error raised on purpose by biojepa."""


class ConfigError(BioJepaError):
    """A recipe, an override or an argument is invalid (CLI exit code 2)."""


class UnknownNameError(BioJepaError, KeyError):
    """A name is not in a registry; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class NotAvailableError(BioJepaError):
    """A command or feature exists in the design but is not available in this build (CLI exit 2)."""


class OptionalDependencyError(BioJepaError, ImportError):
    """An optional dependency (a pip extra) is missing."""


class DataError(BioJepaError):
    """Input data is unusable."""


class CorruptRecordError(DataError):
    """A record cannot be read or fails validation.

    Args:
        record_id: identifier of the record (path or dataset id).
        reason: what is wrong and, where possible, how to fix it.
    """

    def __init__(self, record_id: str, reason: str) -> None:
        self.record_id = str(record_id)
        self.reason = reason
        super().__init__(f"record {self.record_id!r}: {reason}")


class UndefinedMetricError(DataError):
    """A metric is mathematically undefined on this data (e.g. one class only, constant targets)."""


class ContractError(DataError):
    """Input does not match the model's signal contract (rate, channels, units, window, NaN)."""


class CheckpointError(BioJepaError):
    """A checkpoint or model directory is missing, truncated, tampered with or incompatible."""


class NonFiniteLossError(BioJepaError):
    """Training produced too many consecutive non-finite losses or gradients."""


class TrainingInterrupted(BioJepaError):
    """Training stopped on SIGTERM at a step boundary after writing a checkpoint (resume with --resume auto).

    Attributes:
        step: the completed step the checkpoint holds.
        checkpoint: the checkpoint directory written.
    """

    def __init__(self, message: str, *, step: int, checkpoint: str) -> None:
        super().__init__(message)
        self.step = step
        self.checkpoint = checkpoint
