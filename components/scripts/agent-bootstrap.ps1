# Bootstrap of a Windows build agent, run once by the Custom Script Extension as LocalSystem.
# Installs the Containers feature and Docker, registers the Azure Pipelines agent as a
# service, and pre-pulls the app's base images once Docker runs. Idempotent: a rerun skips
# what is done. It never reboots inline (the extension would fail); it schedules the reboot.
param(
    # Base64 of a UTF-8 JSON object: organizationUrl, pool, agentName, pat, dockerVersion,
    # agentVersion, pythonVersion, images. It arrives through protectedSettings only.
    [Parameter(Mandatory = $true)] [string] $SettingsBase64
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
$root = 'C:\gdbc'
New-Item -ItemType Directory -Force -Path $root | Out-Null

function Write-Step([string] $Message) {
    $line = '{0:u} {1}' -f (Get-Date), $Message
    Add-Content -Path "$root\bootstrap.log" -Value $line
    Write-Output $line
}

$json = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($SettingsBase64))
$settings = $json | ConvertFrom-Json

# 1. The Containers feature. It needs a reboot before Docker can run containers.
$rebootNeeded = $false
if (-not (Get-WindowsFeature -Name Containers).Installed) {
    Write-Step 'installing the Containers feature'
    $result = Install-WindowsFeature -Name Containers
    $rebootNeeded = [string]$result.RestartNeeded -eq 'Yes'
}

# 2. Docker from the static binaries, registered as a service that starts at boot.
$dockerDir = Join-Path $env:ProgramFiles 'docker'
if (-not (Get-Service -Name docker -ErrorAction SilentlyContinue)) {
    $zip = "$root\docker.zip"
    $url = "https://download.docker.com/win/static/stable/x86_64/docker-$($settings.dockerVersion).zip"
    Write-Step "downloading Docker $($settings.dockerVersion)"
    Invoke-WebRequest -UseBasicParsing -Uri $url -OutFile $zip
    Expand-Archive -Path $zip -DestinationPath $env:ProgramFiles -Force
    Remove-Item $zip
    $machinePath = [Environment]::GetEnvironmentVariable('Path', 'Machine')
    if ($machinePath -notlike "*$dockerDir*") {
        [Environment]::SetEnvironmentVariable('Path', "$machinePath;$dockerDir", 'Machine')
    }
    & "$dockerDir\dockerd.exe" --register-service
    Set-Service -Name docker -StartupType Automatic
    Write-Step 'Docker registered as a service'
}

# 3. Python, for the pipeline's helper scripts (the image tags, python -m ops.tags).
if (-not (Test-Path 'C:\Python\python.exe')) {
    $version = $settings.pythonVersion
    $installer = "$root\python.exe"
    Write-Step "installing Python $version"
    Invoke-WebRequest -UseBasicParsing -Uri "https://www.python.org/ftp/python/$version/python-$version-amd64.exe" -OutFile $installer
    $setup = Start-Process -FilePath $installer -Wait -PassThru `
        -ArgumentList '/quiet', 'InstallAllUsers=1', 'PrependPath=1', 'Include_test=0', 'TargetDir=C:\Python'
    if ($setup.ExitCode -ne 0) { throw "Python setup failed with exit code $($setup.ExitCode)" }
    Remove-Item $installer
}

# 4. The Azure Pipelines agent, unattended, as a service running as SYSTEM (which may use
# Docker's named pipe). The token goes through the environment, never a command line.
$agentDir = 'C:\agent'
if (-not (Test-Path "$agentDir\.agent")) {
    $version = $settings.agentVersion
    $zip = "$root\agent.zip"
    $url = "https://download.agent.dev.azure.com/agent/$version/vsts-agent-win-x64-$version.zip"
    Write-Step "downloading the Azure Pipelines agent $version"
    Invoke-WebRequest -UseBasicParsing -Uri $url -OutFile $zip
    New-Item -ItemType Directory -Force -Path $agentDir | Out-Null
    Expand-Archive -Path $zip -DestinationPath $agentDir -Force
    Remove-Item $zip
    $env:VSTS_AGENT_INPUT_TOKEN = $settings.pat
    try {
        Push-Location $agentDir
        & .\config.cmd --unattended --url $settings.organizationUrl --auth pat --pool $settings.pool `
            --agent $settings.agentName --work '_work' --runAsService `
            --windowsLogonAccount 'NT AUTHORITY\SYSTEM' --replace --acceptTeeEula
        if ($LASTEXITCODE -ne 0) { throw "agent configuration failed with exit code $LASTEXITCODE" }
    } finally {
        Pop-Location
        Remove-Item Env:\VSTS_AGENT_INPUT_TOKEN -ErrorAction SilentlyContinue
    }
    Write-Step "agent $($settings.agentName) registered in pool $($settings.pool)"
}

# 5. Pre-pull the app's base images (GBs each) at the first boot with Docker running, so
# the first pipeline run does not pay for them. The task removes itself when done.
$images = ($settings.images | ForEach-Object { "'$_'" }) -join ','
$pull = "`$ErrorActionPreference='Stop'; foreach (`$i in @($images)) { & '$dockerDir\docker.exe' pull `$i }; " +
    "Unregister-ScheduledTask -TaskName gdbc-prepull -Confirm:`$false"
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument "-NoProfile -NonInteractive -Command `"$pull`""
$trigger = New-ScheduledTaskTrigger -AtStartup
$trigger.Delay = 'PT2M'
Register-ScheduledTask -TaskName gdbc-prepull -Action $action -Trigger $trigger -User 'SYSTEM' -RunLevel Highest -Force | Out-Null
Write-Step 'base image pre-pull scheduled for the next boot'

# 6. Reboot for the Containers feature, after the extension has reported success.
if ($rebootNeeded) {
    Write-Step 'rebooting in 2 minutes to finish the Containers feature'
    & shutdown.exe /r /t 120 /c 'gdbc bootstrap: Containers feature' /d p:4:2
} else {
    Start-Service -Name docker
    Start-ScheduledTask -TaskName gdbc-prepull
}
Write-Step 'bootstrap done'
