"""Start the app with its first page already computed: ``python -m ui.serve [streamlit options]`` (``make app``).

``streamlit run app.py`` runs nothing until a browser connects, so the first visitor waits for torch to import, the
default checkpoint to load and its first sample to be predicted and drawn. This starts ``streamlit run app.py`` in
this process with ``ui.loaders.warm_start`` running beside it in a thread, filling the same process-wide caches the
pages read, as soon as the server's runtime exists. Options are passed to ``streamlit run`` unchanged.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"
RUNTIME_WAIT_S = 60.0


def warm_when_running() -> bool:
    """Wait for the server's runtime (so the caches live in its storage and its logging is set up), then
    ``ui.loaders.warm_start``; False if the server did not come up."""
    from streamlit import runtime

    deadline = time.monotonic() + RUNTIME_WAIT_S
    while not runtime.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    from ui import loaders  # imported here: its cache decorators want the runtime

    loaders.join_at_exit(threading.current_thread())
    return loaders.warm_start()


def main(argv: list[str] | None = None) -> int:
    from streamlit.web import cli

    threading.Thread(target=warm_when_running, name="star-warm-start", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
