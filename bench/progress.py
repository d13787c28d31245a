"""Progress bars for the benches: tqdm on stderr when it is a terminal, nothing otherwise (as `linli reconcile`).

A bar advances between measured sections, never inside one, so drawing it costs the figures nothing. Lines a
bench prints while its bar is shown go through `say`, which lifts the bar out of the way and puts it back.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(*, total: int, desc: str, unit: str) -> tqdm:  # type: ignore[type-arg]
    """A bar of `total` `unit`s, shown only when stderr is a terminal (piped or logged output stays plain)."""
    return tqdm(total=total, desc=desc, unit=unit, disable=not sys.stderr.isatty())


def say(text: str) -> None:
    """Print a line of results while a bar may be shown (flushed: logs of a long run stay current)."""
    tqdm.write(text)
    sys.stdout.flush()
