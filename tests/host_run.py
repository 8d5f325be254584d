"""Runs infra/ the way Pulumi's Python language host does, and prints what it registered.

Started by tests/test_stack.py with `python -I` and the working directory set to infra/:
the project root is not on sys.path, config arrives in PULUMI_CONFIG and
PULUMI_CONFIG_SECRET_KEYS as the host passes it, and the program is `runpy.run_path`'d
inside a root Stack. Only the SDK and infra/mocks.py (loaded by file, as it imports
nothing of the project) are used, so the program's own path set-up is what is tested.
"""

import importlib.util
import json
import os
import runpy
import sys

from pulumi.runtime import mocks, settings
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

program = os.getcwd()
# Like a venv made by Pulumi itself, without scripts/bootstrap's musicstore.pth: the
# program's own path set-up must make the project importable.
root = os.path.dirname(program)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") not in (root, program)]
assert "components" not in sys.modules
spec = importlib.util.spec_from_file_location("offline_mocks", os.path.join(program, "mocks.py"))
assert spec and spec.loader
offline_mocks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(offline_mocks)

registered = []


class Monitor(mocks.MockMonitor):
    def RegisterResource(self, request):  # noqa: N802
        if request.type != "pulumi:pulumi:Stack":
            registered.append([request.type, request.name])
        return super().RegisterResource(request)

    def ReadResource(self, request):  # noqa: N802
        registered.append([request.type, request.name])
        return super().ReadResource(request)


# Outputs of referenced stacks (prod reads dev), passed as a JSON file by the test.
references = {}
if len(sys.argv) > 3:
    with open(sys.argv[3]) as file:
        references = json.load(file)
monitor = Monitor(offline_mocks.OfflineMocks(lambda name: references[name.split("/")[-1]]))
settings.configure(
    mocks.MockSettings(
        monitor=monitor,
        monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
        engine=mocks.MockEngine(None),
        project=sys.argv[1],
        stack=sys.argv[2],
        dry_run=False,
        organization="organization",
        callbacks=None,
    )
)
_sync_await(run_in_stack(lambda: runpy.run_path(program, run_name="__main__")))
print(json.dumps(sorted(registered)))
