"""Per-epoch logs (JSON lines), wall-clock timing, and the machine a run ran on."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from star.training import distributed


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


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo where available, else the machine type."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    """What a checkpoint records as its training device, e.g. 'cpu (AMD EPYC ..., 2 threads)', or under torchrun
    'cpu (AMD EPYC ..., 1 threads x 2 processes)'."""
    import torch

    from star.training import distributed

    procs = f" x {distributed.world_size()} processes" if distributed.world_size() > 1 else ""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name()}{procs})"
    return f"cpu ({cpu_model()}, {torch.get_num_threads()} threads{procs})"
