"""The tags of a built image, for pipelines: one line, separated by spaces.

    musicstore tags --build-id 20261121 --branch refs/heads/main --version 1.4.0 --release

Only the standard library and components.naming are imported, so a build agent with a bare
Python runs it from the checkout.
"""

from __future__ import annotations

import sys

from components.naming import image_tags
from infra import messages


def main(argv: list[str] | None = None) -> int:
    parser = messages.Parser(prog="musicstore tags", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-id", required=True)
    parser.add_argument("--branch", required=True)
    parser.add_argument("--version", default="")
    parser.add_argument("--release", action="store_true", help="also tag latest")
    args = parser.parse_args(argv)
    try:
        tags = image_tags(
            build_id=args.build_id, branch=args.branch, version=args.version or None, release=args.release
        )
    except ValueError as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    print(" ".join(tags))
    return 0


if __name__ == "__main__":
    sys.exit(main())
