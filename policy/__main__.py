"""The policy pack: pulumi preview --policy-pack policy"""

import sys
from pathlib import Path

# Pulumi runs this folder as the pack; the project root makes `policy` a package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policy.pack import POLICIES

PolicyPack(name="musicstore-guardrails", policies=POLICIES)
