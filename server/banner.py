"""The few lines `linli serve` ends with: where to open the console and the API docs, and whom to sign in as."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Sequence


def banner(*, base_url: str, accounts: Sequence[tuple[str, str, str]]) -> str:
    lines = [
        "",
        "邻里 Linli is ready",
        f"  web console  {base_url}/",
        f"  API docs     {base_url}/schema/",
    ]
    if accounts:
        lines.append("  demo accounts (phone / password):")
        lines += [f"    {who:<14} {phone} / {password}" for who, phone, password in accounts]
    lines.append("  stop with Ctrl+C")
    return "\n".join(lines) + "\n"


def print_when_listening(*, host: str, port: int, text: str, timeout_seconds: float = 120.0) -> threading.Thread:
    """Print `text` once something accepts connections on host:port (the server, after its start-up)."""
    probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host

    def wait_then_print() -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((probe_host, port), timeout=0.5):
                    sys.stdout.write(text)
                    sys.stdout.flush()
                    return
            except OSError:
                time.sleep(0.2)

    thread = threading.Thread(target=wait_then_print, name="linli-banner", daemon=True)
    thread.start()
    return thread
