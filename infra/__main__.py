"""Entry point for Pulumi's Python language host.

The host changes into `main` (infra/) and runs this file with runpy, so only infra/ is on
sys.path; the project root goes first so that `infra` and `components` import as packages.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from infra.program import main  # noqa: E402

main()
