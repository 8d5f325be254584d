"""Tears a stack down through Pulumi's Automation API (the Pulumi CLI must be installed).

    musicstore teardown STACK --dry-run                        # what would go, from the stack's state
    musicstore teardown STACK --dry-run --offline              # what would go, from the offline plan, no CLI
    musicstore teardown STACK --confirm "destroy STACK"        # on demand
    musicstore teardown STACK --expired                        # only if expiresAt has passed

The same gate as the teardown workflow (ops.teardown_gate) decides before anything is
touched: the typed confirmation or a passed expiry, and never a stack whose config says
`teardownAllowed: false`. Then `pulumi destroy`, and the stack's removal from the backend
(Pulumi.<stack>.yaml stays). The dry run reads the stack's state and lists every resource
that would be deleted, changing nothing; with --offline it lists what the program creates for
the stack as its file stands (the offline plan: no CLI, no backend, no Azure).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra import messages, stack_files
from infra.stack_config import ConfigError
from ops import teardown_gate


def listing(deployment: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(type, name) of each resource a destroy would delete, from an exported deployment:
    the stack itself and providers are not deleted as resources of their own."""
    found = []
    for resource in deployment.get("resources", []):
        typ = str(resource.get("type", ""))
        if typ == "pulumi:pulumi:Stack" or typ.startswith("pulumi:providers:"):
            continue
        found.append((typ, str(resource.get("urn", "")).rsplit("::", 1)[-1]))
    return found


def planned_listing(stack: str, root: Path = stack_files.ROOT) -> list[tuple[str, str]]:
    """(type, name) of each resource the offline plan of `stack` holds, as `listing` gives them
    from a state. The plan is judged before the stack expired: expired stacks are the ones torn down."""
    from offline import plan, recording

    cfg = teardown_gate.load(stack, root)
    now = datetime.now(UTC)
    if cfg.expires_at is not None and cfg.expires_at <= now:
        now = cfg.expires_at - timedelta(seconds=1)
    references = plan.referenced_outputs(cfg, root=root, now=now)
    planned = recording.run(stack, root=root, now=now, stack_outputs=references)
    # Sorted: the mocks answer concurrently, so the order of registration varies from run to run.
    return sorted((r.type, r.name) for r in planned.resources.values() if not r.type.startswith("pulumi:providers:"))


def describe(items: list[tuple[str, str]]) -> list[str]:
    lines = [f"{len(items)} resources would be destroyed:"]
    lines += [f"  {n:4}  {typ}" for typ, n in sorted(Counter(t for t, _ in items).items())]
    lines += [f"  - {typ} {name}" for typ, name in items]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = messages.Parser(prog="musicstore teardown", description=__doc__.split("\n\n")[0])
    parser.add_argument("stack")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="list what would go, change nothing")
    mode.add_argument("--confirm", help='the typed confirmation, "destroy STACK"')
    mode.add_argument("--expired", action="store_true", help="destroy only if expiresAt has passed")
    parser.add_argument("--offline", action="store_true", help="with --dry-run: from the offline plan, not the state")
    parser.add_argument(
        "--allow-protected", action="store_true", help="also a stack with protectResources: unprotect it, then destroy"
    )
    args = parser.parse_args(argv)
    try:
        cfg = teardown_gate.load(args.stack)
    except (ConfigError, stack_files.StackFileError) as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    if args.offline and not args.dry_run:
        parser.error("--offline goes with --dry-run only: a teardown itself reads the stack's state")
    if args.offline:
        from offline.plan import PlanError

        try:
            print("\n".join(describe(planned_listing(args.stack))))
        except (ConfigError, stack_files.StackFileError, PlanError, ValueError) as err:
            print(messages.error_line(err), file=sys.stderr)
            return 2
        print(f"(from the offline plan of Pulumi.{args.stack}.yaml; a stack deployed from another version differs)")
        return 0
    if not args.dry_run:
        verdict = (
            teardown_gate.on_schedule(cfg, datetime.now(UTC))
            if args.expired
            else teardown_gate.on_demand(cfg, args.confirm or "", allow_protected=args.allow_protected)
        )
        if not verdict.allowed:
            print(f"refused: {args.stack} stays, because {verdict.reason}", file=sys.stderr)
            return 3
    try:
        from pulumi import automation as auto

        stack = auto.select_stack(stack_name=args.stack, work_dir=str(stack_files.ROOT))
        print("\n".join(describe(listing(stack.export_stack().deployment or {}))))
        if args.dry_run:
            return 0
        if cfg.protect_resources:
            # The Automation API has no unprotect; the CLI does, on the same stack.
            subprocess.run(
                ["pulumi", "state", "unprotect", "--all", "--yes", "--stack", args.stack],
                cwd=stack_files.ROOT,
                check=True,
            )
        # The cluster may be gone already: its Kubernetes objects then leave the state with it.
        stack.workspace.env_vars = {**stack.workspace.env_vars, "PULUMI_K8S_DELETE_UNREACHABLE": "true"}
        stack.destroy(on_output=print, message=f"teardown of {args.stack}")
        stack.workspace.remove_stack(args.stack, preserve_config=True)
    except FileNotFoundError:
        print("error: the Pulumi CLI is not installed (https://www.pulumi.com/docs/install/)", file=sys.stderr)
        return 2
    except Exception as err:  # the Automation API raises CommandError and friends
        text = str(err).strip()
        print(messages.error_line(text.splitlines()[-1] if text else type(err).__name__), file=sys.stderr)
        return 1
    print(f"{args.stack} destroyed and removed; Pulumi.{args.stack}.yaml kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
