# Bootstrap of a Windows build agent, run by the Custom Script Extension as LocalSystem.
# Installs the Containers feature, Docker and every tool the team's pipeline runs on the agent
# (azure-pipelines.yml: docker, python with pip and venv, az for AzureCLI@2, pulumi), each at
# the version pinned in the settings; registers the Azure Pipelines agent as a service; pre-pulls
# the app's base images. Git is not installed: the agent's checkout puts the agent's own Git on
# the PATH for the rest of the job (azure-pipelines-agent src/Agent.Plugins/GitCliManager.cs).
# Idempotent: a rerun installs what is missing, replaces Python, az and pulumi when not at their
# pinned version (Docker and the agent stay: replacing them would stop a running build), and re-registers the agent
# only when its organization, pool, name or PAT changed. It never reboots inline (the extension
# would fail); it schedules the reboot.
param(
    # Base64 of a UTF-8 JSON object: organizationUrl, pool, agentName, registrationHash,
    # vaultName, secretName, dockerVersion, agentVersion, pythonVersion, azureCliVersion,
    # pulumiVersion, images. No secret: the PAT is read from Key Vault by the VM's identity.
    [Parameter(Mandatory = $true)] [string] $SettingsBase64
)
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$env:PULUMI_SKIP_UPDATE_CHECK = 'true'
[Net.ServicePointManager]::SecurityProtocol = [Net.SecurityProtocolType]::Tls12
$root = 'C:\gdbc'
$agentDir = 'C:\agent'
New-Item -ItemType Directory -Force -Path $root | Out-Null

function Write-Step([string] $Message) {
    $line = '{0:u} {1}' -f (Get-Date), $Message
    Add-Content -Path "$root\bootstrap.log" -Value $line
    Write-Output $line
}

function Add-MachinePath([string] $Dir) {
    $machinePath = [Environment]::GetEnvironmentVariable('Path', 'Machine')
    if (($machinePath -split ';') -notcontains $Dir) {
        [Environment]::SetEnvironmentVariable('Path', "$machinePath;$Dir", 'Machine')
    }
    if (($env:Path -split ';') -notcontains $Dir) { $env:Path = "$env:Path;$Dir" }
}

function Get-Sha256([string] $Text) {
    $sha = [Security.Cryptography.SHA256]::Create()
    try { -join ($sha.ComputeHash([Text.Encoding]::UTF8.GetBytes($Text)) | ForEach-Object { $_.ToString('x2') }) }
    finally { $sha.Dispose() }
}

function Get-Pat([string] $Vault, [string] $Name) {
    # The VM's system-assigned identity, through the instance metadata service, reads the one
    # secret it is granted. A new grant may take minutes to reach Key Vault: retry meanwhile.
    $imds = 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net'
    for ($try = 1; ; $try++) {
        try {
            $token = (Invoke-RestMethod -UseBasicParsing -Headers @{ Metadata = 'true' } -Uri $imds).access_token
            $uri = "https://$Vault.vault.azure.net/secrets/$($Name)?api-version=7.4"
            return (Invoke-RestMethod -UseBasicParsing -Headers @{ Authorization = "Bearer $token" } -Uri $uri).value
        } catch {
            if ($try -ge 30) { throw "the PAT could not be read from Key Vault ${Vault}: $($_.Exception.Message)" }
            # To the host, not the pipeline: the function's output is the PAT alone.
            Write-Step "Key Vault $Vault not readable yet (try $try): $($_.Exception.Message)" | Out-Host
            Start-Sleep -Seconds 20
        }
    }
}

function Invoke-AgentConfig([string[]] $Arguments, [string] $Pat) {
    # config.cmd takes every argument from VSTS_AGENT_INPUT_<NAME> as well, and drops those
    # variables as it starts (azure-pipelines-agent src/Agent.Listener/CommandSettings.cs):
    # the token goes that way, never on a command line.
    $env:VSTS_AGENT_INPUT_TOKEN = $Pat
    try {
        & "$agentDir\config.cmd" @Arguments
        if ($LASTEXITCODE -ne 0) { throw "config.cmd $Arguments failed with exit code $LASTEXITCODE" }
    } finally {
        Remove-Item Env:\VSTS_AGENT_INPUT_TOKEN -ErrorAction SilentlyContinue
    }
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
    Write-Step "downloading Docker $($settings.dockerVersion)"
    Invoke-WebRequest -UseBasicParsing -OutFile $zip `
        -Uri "https://download.docker.com/win/static/stable/x86_64/docker-$($settings.dockerVersion).zip"
    Expand-Archive -Path $zip -DestinationPath $env:ProgramFiles -Force
    Remove-Item $zip
    & "$dockerDir\dockerd.exe" --register-service
    Set-Service -Name docker -StartupType Automatic
    Write-Step 'Docker registered as a service'
}
Add-MachinePath $dockerDir

# 3. Python with pip and venv: the image tags (python -m ops.tags) and the release's venv.
$version = $settings.pythonVersion
if (-not (Test-Path 'C:\Python\python.exe') -or ((& 'C:\Python\python.exe' --version) -ne "Python $version")) {
    $installer = "$root\python.exe"
    Write-Step "installing Python $version"
    Invoke-WebRequest -UseBasicParsing -Uri "https://www.python.org/ftp/python/$version/python-$version-amd64.exe" -OutFile $installer
    $setup = Start-Process -FilePath $installer -Wait -PassThru `
        -ArgumentList '/quiet', 'InstallAllUsers=1', 'PrependPath=1', 'Include_test=0', 'TargetDir=C:\Python'
    if ($setup.ExitCode -ne 0) { throw "Python setup failed with exit code $($setup.ExitCode)" }
    Remove-Item $installer
}
Add-MachinePath 'C:\Python'
Add-MachinePath 'C:\Python\Scripts'

# 4. The Azure CLI, which the AzureCLI@2 task and the release script call as az: the 64-bit MSI
# of the pinned release (learn.microsoft.com/cli/azure/install-azure-cli-windows, "Specific version").
$version = $settings.azureCliVersion
$installed = Get-ItemProperty 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*' -ErrorAction SilentlyContinue |
    Where-Object { $_.DisplayName -like 'Microsoft Azure CLI*' } | Select-Object -First 1
if (-not $installed -or $installed.DisplayVersion -notlike "$version*") {
    $msi = "$root\azure-cli.msi"
    Write-Step "installing the Azure CLI $version"
    Invoke-WebRequest -UseBasicParsing -Uri "https://azcliprod.blob.core.windows.net/msi/azure-cli-$version-x64.msi" -OutFile $msi
    $setup = Start-Process -FilePath msiexec.exe -Wait -PassThru -ArgumentList '/i', $msi, '/quiet', '/norestart'
    if ($setup.ExitCode -notin 0, 3010) { throw "Azure CLI setup failed with exit code $($setup.ExitCode)" }
    Remove-Item $msi
}
Add-MachinePath (Join-Path $env:ProgramFiles 'Microsoft SDKs\Azure\CLI2\wbin')

# 5. The Pulumi CLI for the release's pulumi up: the release zip holds pulumi\bin.
$version = $settings.pulumiVersion
$pulumiDir = Join-Path $env:ProgramFiles 'pulumi\bin'
if (-not (Test-Path "$pulumiDir\pulumi.exe") -or ((& "$pulumiDir\pulumi.exe" version) -ne "v$version")) {
    $zip = "$root\pulumi.zip"
    Write-Step "installing the Pulumi CLI $version"
    Invoke-WebRequest -UseBasicParsing -Uri "https://get.pulumi.com/releases/sdk/pulumi-v$version-windows-x64.zip" -OutFile $zip
    if (Test-Path $pulumiDir) { Remove-Item -Recurse -Force $pulumiDir }
    Expand-Archive -Path $zip -DestinationPath $env:ProgramFiles -Force
    Remove-Item $zip
}
Add-MachinePath $pulumiDir
foreach ($tool in 'docker', 'python', 'az', 'pulumi') {
    if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "$tool is not on the PATH after its install" }
}

# 6. The Azure Pipelines agent package.
if (-not (Test-Path "$agentDir\config.cmd")) {
    $version = $settings.agentVersion
    $zip = "$root\agent.zip"
    Write-Step "downloading the Azure Pipelines agent $version"
    Invoke-WebRequest -UseBasicParsing -OutFile $zip `
        -Uri "https://download.agent.dev.azure.com/agent/$version/vsts-agent-win-x64-$version.zip"
    New-Item -ItemType Directory -Force -Path $agentDir | Out-Null
    Expand-Archive -Path $zip -DestinationPath $agentDir -Force
    Remove-Item $zip
}

# 7. The PATH the agent's jobs see. A service keeps the environment it was started with, and the
# agent loads .env from its folder at every start (azure-pipelines-agent src/Agent.Listener/
# Program.cs): the machine PATH with the tools above goes there, and a changed one restarts it.
$envFile = "$agentDir\.env"
$kept = @(if (Test-Path $envFile) { Get-Content $envFile | Where-Object { $_ -notlike 'PATH=*' } })
$envLines = $kept + "PATH=$([Environment]::GetEnvironmentVariable('Path', 'Machine'))"
$envChanged = -not (Test-Path $envFile) -or (@(Get-Content $envFile) -join "`n") -ne ($envLines -join "`n")
if ($envChanged) { Set-Content -Path $envFile -Value $envLines -Encoding ASCII }

# 8. The registration, as a service running as SYSTEM (which may use Docker's named pipe). The
# fingerprint beside the agent is a hash of the registration settings and one of the PAT, never
# the PAT: when it differs, the old registration is removed and the agent registered anew.
$pat = Get-Pat $settings.vaultName $settings.secretName
$fingerprint = "$($settings.registrationHash):$(Get-Sha256 $pat)"
$fingerprintFile = "$agentDir\.gdbc-fingerprint"
$configured = Test-Path "$agentDir\.agent"
$previous = if (Test-Path $fingerprintFile) { (Get-Content -Raw $fingerprintFile).Trim() } else { '' }
$reconfigured = -not $configured -or $previous -ne $fingerprint
if ($reconfigured) {
    if ($configured) {
        Write-Step 'registration or PAT changed: removing the agent as it is registered'
        try {
            # remove reads the organization, pool and agent of the old registration from .agent.
            Invoke-AgentConfig @('remove', '--unattended', '--auth', 'pat') $pat
        } catch {
            Write-Step "removal failed, clearing it here only (delete the old agent from its pool): $_"
            $service = Get-Content "$agentDir\.service" -ErrorAction SilentlyContinue
            if ($service) { Stop-Service -Name $service -ErrorAction SilentlyContinue; & sc.exe delete $service | Out-Null }
            Remove-Item -Force -ErrorAction SilentlyContinue -Path `
                "$agentDir\.agent", "$agentDir\.credentials", "$agentDir\.credentials_rsaparams", "$agentDir\.service"
        }
    }
    Invoke-AgentConfig @('--unattended', '--url', $settings.organizationUrl, '--auth', 'pat',
        '--pool', $settings.pool, '--agent', $settings.agentName, '--work', '_work', '--runAsService',
        '--windowsLogonAccount', 'NT AUTHORITY\SYSTEM', '--replace', '--acceptTeeEula') $pat
    Set-Content -Path $fingerprintFile -Value $fingerprint -Encoding ASCII
    Write-Step "agent $($settings.agentName) registered in pool $($settings.pool)"
} else {
    Write-Step 'agent registration unchanged'
}
Remove-Variable -Name pat

# 9. Pre-pull the app's base images (GBs each) at the first boot with Docker running, so
# the first pipeline run does not pay for them. The task removes itself when done.
$images = ($settings.images | ForEach-Object { "'$_'" }) -join ','
$pull = "`$ErrorActionPreference='Stop'; foreach (`$i in @($images)) { & '$dockerDir\docker.exe' pull `$i }; " +
    "Unregister-ScheduledTask -TaskName gdbc-prepull -Confirm:`$false"
$action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument "-NoProfile -NonInteractive -Command `"$pull`""
$trigger = New-ScheduledTaskTrigger -AtStartup
$trigger.Delay = 'PT2M'
Register-ScheduledTask -TaskName gdbc-prepull -Action $action -Trigger $trigger -User 'SYSTEM' -RunLevel Highest -Force | Out-Null
Write-Step 'base image pre-pull scheduled for the next boot'

# 10. Reboot for the Containers feature, after the extension has reported success.
if ($rebootNeeded) {
    Write-Step 'rebooting in 2 minutes to finish the Containers feature'
    & shutdown.exe /r /t 120 /c 'gdbc bootstrap: Containers feature' /d p:4:2
} else {
    Start-Service -Name docker
    if ($envChanged -and -not $reconfigured) { Get-Service -Name 'vstsagent*' | Restart-Service }
    Start-ScheduledTask -TaskName gdbc-prepull
}
Write-Step 'bootstrap done'
