"""The Windows-release rules: which Windows Server release each node OS runs, which images the
app builds from and runs on for that release, and which Marketplace image builds them."""

from __future__ import annotations

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
