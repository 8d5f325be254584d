"""The policy pack: pulumi preview --policy-pack policy

Run by hand (`python -m policy`), it lists its rules and exits: the pack itself only serves the
engine, which runs this file through `python -m pulumi.policy ENGINE DIR` (runpy, so the module is
`__main__` there, never `policy.__main__`), and would otherwise wait for an engine forever.
"""

import sys
from pathlib import Path

# Pulumi runs this folder as the pack; the project root makes `policy` a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policy.rules import RULES

if __spec__ is not None and __spec__.name == "policy.__main__":
    width = max(len(rule.name) for rule in RULES)
    print("musicstore-guardrails: run with `pulumi preview --policy-pack policy`; the offline plan runs the same rules")
    for rule in RULES:
        print(f"  {rule.name:<{width}}  {'mandatory' if rule.mandatory else 'advisory ':<9}  {rule.description}")
    sys.exit(0)

from pulumi_policy import PolicyPack

from policy.pack import POLICIES

PolicyPack(name="musicstore-guardrails", policies=POLICIES)
