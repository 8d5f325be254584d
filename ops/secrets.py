"""Sets a stack's required secrets from the environment, as CI and the release pipeline do.

    musicstore secrets STACK [--dry-run]

For each secret the stack needs (what the offline plan lists under "Needed before `pulumi up`"),
the value comes from the variable SECRET_<KEY IN CAPITALS> (SECRET_AZDOPAT for azdoPat), which the
workflow fills from its secret store; it reaches `pulumi config set --secret` on standard input,
never on a command line. A missing variable is an error naming it; nothing is set then.
"""

from __future__ import annotations

import os
import subprocess
import sys

from infra import messages
from infra.config import offline_files
from infra.stack_config import ConfigError
from infra.stack_files import StackFileError


def variable(key: str) -> str:
    return f"SECRET_{key.upper()}"


def needed(stack: str) -> list[str]:
    """The keys (without the project namespace) of the secrets `stack` needs and does not set."""
    files = offline_files(stack)
    return sorted(k.split(":", 1)[1] for k in files.placeholders if k in files.secret_keys)


def main(argv: list[str] | None = None) -> int:
    parser = messages.Parser(prog="musicstore secrets", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    parser.add_argument("--dry-run", action="store_true", help="name the secrets and their variables only")
    args = parser.parse_args(argv)
    try:
        keys = needed(args.stack)
    except (ConfigError, StackFileError) as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    missing = [variable(k) for k in keys if not os.environ.get(variable(k))]
    if missing and not args.dry_run:
        rule = "must hold the stack's secret (from the workflow's secret store)"
        print(messages.error_line(messages.problem(", ".join(missing), "unset", rule)), file=sys.stderr)
        return 2
    for key in keys:
        if args.dry_run:
            print(f"{key}: from {variable(key)}")
            continue
        done = subprocess.run(
            ["pulumi", "config", "set", "--stack", args.stack, "--secret", key],
            input=os.environ[variable(key)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            print(messages.error_line(f"pulumi config set --secret {key}: {done.stderr.strip()}"), file=sys.stderr)
            return 1
        print(f"{key}: set as a secret of {args.stack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
