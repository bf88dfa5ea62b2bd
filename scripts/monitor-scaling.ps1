<#
.SYNOPSIS
    Watch the Auto Scaling group: capacity, instances, activities, target health.
.DESCRIPTION
    Thin wrapper over `ollama-ops monitor scaling`: each parameter maps to one flag of that command.
    Run from the repository root with the project's virtualenv active.
.PARAMETER Environment
    Stack to act on: dev, staging or production.
.PARAMETER Region
    AWS region (default: the stack's aws:region) (--region)
.PARAMETER Once
    Take one sample and exit (--once)
.PARAMETER Duration
    Seconds to keep refreshing (--duration)
.PARAMETER Interval
    Seconds between refreshes (--interval)
.PARAMETER Minutes
    Metric window in minutes (--minutes)
.PARAMETER Json
    Print JSON, one document per sample (--json)
.PARAMETER ForceCrossEnv
    Act even though another stack is selected (--force-cross-env)
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('dev', 'staging', 'production')]
    [string]$Environment,
    [string]$Region,
    [switch]$Once,
    [int]$Duration,
    [int]$Interval,
    [int]$Minutes,
    [switch]$Json,
    [switch]$ForceCrossEnv
)

$ErrorActionPreference = 'Stop'
$cliArgs = @('monitor', 'scaling', '--stack', $Environment)
if ($Region) { $cliArgs += @('--region', $Region) }
if ($Once) { $cliArgs += '--once' }
if ($PSBoundParameters.ContainsKey('Duration')) { $cliArgs += @('--duration', $Duration) }
if ($PSBoundParameters.ContainsKey('Interval')) { $cliArgs += @('--interval', $Interval) }
if ($PSBoundParameters.ContainsKey('Minutes')) { $cliArgs += @('--minutes', $Minutes) }
if ($Json) { $cliArgs += '--json' }
if ($ForceCrossEnv) { $cliArgs += '--force-cross-env' }
& python -m ollama_infra.ops @cliArgs
exit $LASTEXITCODE
