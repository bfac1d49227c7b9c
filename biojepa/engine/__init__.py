"""biojepa.engine: the modality-agnostic training engine.

Modules (import them directly; this package imports nothing heavy):

- :mod:`biojepa.engine.jepa` — the JEPA model (context encoder, EMA target encoder, predictor, latent loss).
- :mod:`biojepa.engine.step` — one optimizer step (shared by the Trainer and ``biojepa bench``).
- :mod:`biojepa.engine.schedules` — lr, weight decay and EMA momentum as pure functions of the step.
- :mod:`biojepa.engine.seed` — seeding, derived seeds, RNG state capture / restore.
- :mod:`biojepa.engine.checkpoint` — atomic, hash-verified checkpoints and resume discovery.
- :mod:`biojepa.engine.runinfo` / :mod:`biojepa.engine.metrics_log` — run-directory provenance and metrics.
- :mod:`biojepa.engine.faults` — test-only fault injection (``BIOJEPA_FAULT``).
- :mod:`biojepa.engine.trainer` — the step loop (:class:`~biojepa.engine.trainer.Trainer`).
- :mod:`biojepa.engine.pretrain` — :func:`~biojepa.engine.pretrain.run_pretrain`, behind ``biojepa pretrain``.
"""
