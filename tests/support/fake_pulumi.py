"""A `pulumi` that only journals what it is asked and answers `stack output` with a file: for the
organizer's commands that call the CLI around Azure (the real engine cannot reach Azure)."""

from __future__ import annotations

import stat
import sys
from pathlib import Path


def install(bin_dir: Path, journal: Path) -> Path:
    """Writes `bin_dir/pulumi`: each call appends its command line to `journal`; `pulumi stack
    output ...` prints `bin_dir/outputs.json`, `pulumi preview ...` `bin_dir/preview.json` (as
    `--json` prints it); `bin_dir/exits.json`, if there, maps a command (`preview`, `up`) to its
    exit status. Returns the outputs file to fill."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    outputs = bin_dir / "outputs.json"
    fake = bin_dir / "pulumi"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"with open({str(journal)!r}, 'a') as log:\n"
        "    log.write(' '.join(['pulumi', *sys.argv[1:]]) + '\\n')\n"
        "if sys.argv[1:3] == ['stack', 'output']:\n"
        f"    sys.stdout.write(open({str(outputs)!r}).read())\n"
        "if sys.argv[1:2] == ['preview']:\n"
        f"    sys.stdout.write(open({str(bin_dir / 'preview.json')!r}).read())\n"
        "import json, os\n"
        f"exits = {str(bin_dir / 'exits.json')!r}\n"
        "sys.exit(json.load(open(exits)).get(sys.argv[1], 0) if os.path.exists(exits) else 0)\n",
        encoding="utf-8",
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    return outputs
