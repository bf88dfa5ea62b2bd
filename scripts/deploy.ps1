<#
.SYNOPSIS
    Check prerequisites, preview, confirm, deploy and health-check a stack.
.DESCRIPTION
    Thin wrapper over `ollama-ops deploy`: each parameter maps to one flag of that command.
    Run from the repository root with the project's virtualenv active.
.PARAMETER Environment
    Stack to act on: dev, staging or production.
.PARAMETER Region
    AWS region (default: the stack's aws:region) (--region)
.PARAMETER Yes
    Do not ask for confirmation (--yes)
.PARAMETER DryRun
    Show what would change and change nothing (--dry-run)
.PARAMETER Production
    Required to act on the production stack (--production)
.PARAMETER SkipHealth
    Skip the post-deployment health checks (--skip-health)
.PARAMETER SkipPermissionCheck
    Do not simulate the IAM permissions (--skip-permission-check)
.PARAMETER HealthTimeout
    Seconds each health check may keep retrying (--health-timeout)
.PARAMETER ForceCrossEnv
    Act even though another stack is selected (--force-cross-env)
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('dev', 'staging', 'production')]
    [string]$Environment,
    [string]$Region,
    [switch]$Yes,
    [switch]$DryRun,
    [switch]$Production,
    [switch]$SkipHealth,
    [switch]$SkipPermissionCheck,
    [int]$HealthTimeout,
    [switch]$ForceCrossEnv
)

$ErrorActionPreference = 'Stop'
$cliArgs = @('deploy', '--stack', $Environment)
if ($Region) { $cliArgs += @('--region', $Region) }
if ($Yes) { $cliArgs += '--yes' }
if ($DryRun) { $cliArgs += '--dry-run' }
if ($Production) { $cliArgs += '--production' }
if ($SkipHealth) { $cliArgs += '--skip-health' }
if ($SkipPermissionCheck) { $cliArgs += '--skip-permission-check' }
if ($PSBoundParameters.ContainsKey('HealthTimeout')) { $cliArgs += @('--health-timeout', $HealthTimeout) }
if ($ForceCrossEnv) { $cliArgs += '--force-cross-env' }
& python -m ollama_infra.ops @cliArgs
exit $LASTEXITCODE
