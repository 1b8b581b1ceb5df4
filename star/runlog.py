"""Per-epoch logs (JSON lines) and wall-clock timing for training runs."""

from __future__ import annotations

import json
import time
from pathlib import Path

from star import distributed


class RunLog:
    """Appends one JSON object per line to ``path`` (rank 0 only) and echoes a short line to the console."""

    def __init__(self, path: str | Path, echo: bool = True):
        self.path = Path(path)
        self.echo = echo and distributed.is_main()
        self.start = time.perf_counter()
        if distributed.is_main():
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, **record) -> None:
        record.setdefault("elapsed_s", round(time.perf_counter() - self.start, 2))
        if not distributed.is_main():
            return
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.echo:
            shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())
            print(shown, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start
