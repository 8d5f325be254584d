"""Keeps app/Dockerfile's Windows release in step with every stack's Windows pools.

AKS runs Windows containers with process isolation: the image's Windows build must equal
the node's. One image is built, pushed to dev and promoted by digest to prod, so every
stack must run it on a pool of the same OS SKU. The release is decided once, by
`components.windows.APP_BASE_IMAGES`; this check finds where the Dockerfile or a stack departs.

    musicstore dockerfile-check      (exit 1 and one line per problem)
"""

from __future__ import annotations

import sys
from pathlib import Path

from components.windows import WINDOWS_VERSION_FOR_OS_SKU, dockerfile_base_images, dockerfile_release
from infra import messages, stack_files
from infra.config import load_stack
from infra.stack_config import ConfigError, StackConfig
from offline.expiry import base_image_problem

DOCKERFILE = stack_files.ROOT / "app" / "Dockerfile"


def problems(dockerfile: str, configs: dict[str, StackConfig]) -> list[str]:
    images = dockerfile_base_images(dockerfile)
    unsupported = [problem for image in images if (problem := base_image_problem(image))]
    if unsupported:
        return [f"app/Dockerfile: {problem}" for problem in unsupported]
    release = dockerfile_release(dockerfile)
    if release is None:
        return [f"app/Dockerfile builds on {images[0]} and {images[1]}, not a pair of APP_BASE_IMAGES"]
    found = []
    for stack, cfg in sorted(configs.items()):
        if cfg.app.windows_version != release:
            found.append(f"stack {stack} runs the app as {cfg.app.windows_version}, app/Dockerfile builds {release}")
        skus = {p.os_sku for p in cfg.windows_pools}
        if not any(WINDOWS_VERSION_FOR_OS_SKU[s] == release for s in skus):
            found.append(f"stack {stack} has no Windows pool for {release} (pools: {', '.join(sorted(skus))})")
    return found


def stack_configs(root: Path = stack_files.ROOT) -> dict[str, StackConfig]:
    configs = {}
    for stack in stack_files.stacks(root):
        configs[stack] = load_stack(stack, root, deploying=False)  # this check names each mismatch
    return configs


def main(argv: list[str] | None = None) -> int:
    messages.Parser(prog="musicstore dockerfile-check", description=__doc__.split("\n\n")[0]).parse_args(argv)
    try:
        found = problems(DOCKERFILE.read_text(encoding="utf-8"), stack_configs())
    except (ConfigError, stack_files.StackFileError) as err:
        print(messages.error_line(err), file=sys.stderr)
        return 2
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
