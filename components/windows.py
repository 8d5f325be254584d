"""The Windows-release rules: which Windows Server release each node OS runs, which images the
app builds from and runs on for that release, and which Marketplace image builds them."""

from __future__ import annotations

import re

# Windows container images run with process isolation on AKS, so the image's Windows
# release must be the node's: ltsc2022 on Windows2022 nodes, ltsc2025 on Windows2025.
WINDOWS_VERSION_FOR_OS_SKU = {"Windows2022": "ltsc2022", "Windows2025": "ltsc2025"}

# Marketplace image of a build agent, by the Windows release of the images it builds.
AGENT_IMAGE_SKU = {"ltsc2022": "2022-datacenter-g2", "ltsc2025": "2025-datacenter-g2"}
# The .NET Framework images the app builds from and runs on (Dockerfile stages), per release.
APP_BASE_IMAGES = {
    "ltsc2022": (
        "mcr.microsoft.com/dotnet/framework/sdk:4.8.1-windowsservercore-ltsc2022",
        "mcr.microsoft.com/dotnet/framework/aspnet:4.8.1-windowsservercore-ltsc2022",
    ),
    "ltsc2025": (
        "mcr.microsoft.com/dotnet/framework/sdk:4.8.1-windowsservercore-ltsc2025",
        "mcr.microsoft.com/dotnet/framework/aspnet:4.8.1-windowsservercore-ltsc2025",
    ),
}


def dockerfile_base_images(dockerfile: str) -> tuple[str, str]:
    """The SDK and runtime images a Dockerfile builds on by default (its ARG lines)."""
    found = dict(re.findall(r"^ARG (SDK_IMAGE|RUNTIME_IMAGE)=(\S+)$", dockerfile, flags=re.MULTILINE))
    return found.get("SDK_IMAGE", ""), found.get("RUNTIME_IMAGE", "")


def dockerfile_release(dockerfile: str) -> str | None:
    """The Windows release of the app image a Dockerfile builds: the release whose
    APP_BASE_IMAGES pair its ARGs name, or None when they name no such pair."""
    images = dockerfile_base_images(dockerfile)
    return next((release for release, pair in APP_BASE_IMAGES.items() if pair == images), None)
