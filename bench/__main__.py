"""`python -m bench`: run every benchmark with its default (quick) size; exits 1 if any of them failed.

Each `bench.<name>.__main__` has `main(argv)`; a failure is a non-zero return or `SystemExit`.
"""

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.ispkg)
    failed = 0
    for name in names:
        print(f"\n=== bench.{name} ===", flush=True)
        module = importlib.import_module(f"bench.{name}.__main__")
        try:
            failed += int(bool(module.main([])))
        except SystemExit as exc:
            failed += int(bool(exc.code))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
