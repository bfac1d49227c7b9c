"""``biojepa`` CLI entry for the multi-process tests, launched by ``torchrun tests/engine/_ddp_worker.py ...``.

It runs the real CLI; the only addition is test instrumentation: when ``BIOJEPA_TEST_DUMP`` names a folder,
every rank writes its final JEPA weights there as ``rank<R>.safetensors`` (also when training stops on an
error), so a test can compare the ranks' parameters.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from biojepa.cli import main
from biojepa.engine.trainer import Trainer

_fit = Trainer.fit


def _fit_and_dump(self: Trainer, resume: bool = False) -> Any:
    try:
        return _fit(self, resume)
    finally:
        dump = os.environ.get("BIOJEPA_TEST_DUMP")
        if dump:
            Path(dump).mkdir(parents=True, exist_ok=True)
            tensors = {k: v.detach().to("cpu").clone().contiguous() for k, v in self.model.state_dict().items()}
            save_file(tensors, str(Path(dump) / f"rank{self.dist.rank}.safetensors"))


Trainer.fit = _fit_and_dump  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
