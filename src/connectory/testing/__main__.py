"""``python -m connectory.testing``: run the test API on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import logging
import threading

from connectory.testing.api import create_test_api
from connectory.testing.server import serve

DEFAULT_PORT = 8765


def main(argv: list[str] | None = None) -> int:
    """Run the test API; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m connectory.testing",
        description="Run Connectory's test API (every paging style and auth type) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--records", type=int, default=250, help="size of the dataset")
    parser.add_argument("--token-ttl", type=int, default=3600, help="token lifetime in seconds")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    app = create_test_api(args.records, token_ttl=args.token_ttl)
    with serve(app, port=args.port, log_level=args.log_level, access_log=True) as url:
        print(
            f"Connectory test API on {url} (GET {url}/_stats for counters; Ctrl-C stops)",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
