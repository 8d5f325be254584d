# Starts MvcMusicStore in its container: writes the database connection string from the
# mounted Kubernetes Secret (C:\secrets\MusicStoreEntities) into Web.config, then hands over
# to ServiceMonitor, which runs IIS as the container's main process. The secret arrives as a
# file, so no environment variable carries it into IIS.
$ErrorActionPreference = 'Stop'
$name = 'MusicStoreEntities'
$file = Join-Path 'C:\secrets' $name
if (Test-Path $file) {
    $value = (Get-Content -Raw -Path $file).Trim()
    $path = 'C:\inetpub\wwwroot\Web.config'
    [xml]$config = Get-Content -Raw -Path $path
    $entry = $config.configuration.connectionStrings.add | Where-Object { $_.name -eq $name }
    if (-not $entry) { throw "Web.config has no connection string named $name" }
    $entry.connectionString = $value
    $config.Save($path)
}
& C:\ServiceMonitor.exe w3svc
exit $LASTEXITCODE
