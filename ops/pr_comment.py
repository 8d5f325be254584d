"""A pull-request comment from a plan or preview, kept under GitHub's size limit.

    musicstore pr-comment TITLE FILE > comment.md

GitHub refuses comments over 65,536 characters; a long preview is cut at a line boundary,
with a note saying how much was left out and where the full text is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from infra import messages

LIMIT = 65_536
MARGIN = 1_024  # room for the heading, the fences and the note


def comment(title: str, text: str, *, full_text_at: str = "the workflow run's log", limit: int = LIMIT) -> str:
    head = f"### {title}\n\n```text\n"
    tail = "\n```\n"
    room = limit - MARGIN - len(head) - len(tail)
    body = text.rstrip("\n").replace("```", "ʼʼʼ")
    if len(body) > room:
        kept = body[:room].rsplit("\n", 1)[0]
        left = body.count("\n") - kept.count("\n")
        note = f"\n_{left} more lines left out to stay under GitHub's comment limit: see {full_text_at}._\n"
        return head + kept + tail + note
    return head + body + tail


def main(argv: list[str] | None = None) -> int:
    parser = messages.Parser(prog="musicstore pr-comment", description=__doc__.split("\n\n")[0])
    parser.add_argument("title")
    parser.add_argument("file", type=Path)
    parser.add_argument("where", nargs="?", default="the workflow run's log", help="where the full text is")
    args = parser.parse_args(argv)
    try:
        text = args.file.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    sys.stdout.write(comment(args.title, text, full_text_at=args.where))
    return 0


if __name__ == "__main__":
    sys.exit(main())
