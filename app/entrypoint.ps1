# Starts MvcMusicStore in its container: writes the database connection string from the
# environment (the Kubernetes Secret behind MusicStoreEntities) into Web.config, then hands
# over to ServiceMonitor, which runs IIS as the container's main process.
$ErrorActionPreference = 'Stop'
$name = 'MusicStoreEntities'
$value = [Environment]::GetEnvironmentVariable($name)
if ($value) {
    $path = 'C:\inetpub\wwwroot\Web.config'
    [xml]$config = Get-Content -Raw -Path $path
    $entry = $config.configuration.connectionStrings.add | Where-Object { $_.name -eq $name }
    if (-not $entry) { throw "Web.config has no connection string named $name" }
    $entry.connectionString = $value
    $config.Save($path)
    # Keep the secret out of IIS's inherited environment.
    [Environment]::SetEnvironmentVariable($name, $null)
}
& C:\ServiceMonitor.exe w3svc
exit $LASTEXITCODE
