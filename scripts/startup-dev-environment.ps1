<#
.SYNOPSIS
    Restore the recorded capacity of a non-production stack.
.DESCRIPTION
    Thin wrapper over `ollama-ops dev startup`: each parameter maps to one flag of that command.
    Run from the repository root with the project's virtualenv active.
.PARAMETER Environment
    Stack to act on: dev, staging or production.
.PARAMETER Region
    AWS region (default: the stack's aws:region) (--region)
.PARAMETER Yes
    Do not ask for confirmation (--yes)
.PARAMETER DryRun
    Show what would change and change nothing (--dry-run)
.PARAMETER ForceCrossEnv
    Act even though another stack is selected (--force-cross-env)
#>
[CmdletBinding()]
param(
    [ValidateSet('dev', 'staging', 'production')]
    [string]$Environment = 'dev',
    [string]$Region,
    [switch]$Yes,
    [switch]$DryRun,
    [switch]$ForceCrossEnv
)

$ErrorActionPreference = 'Stop'
$cliArgs = @('dev', 'startup', '--stack', $Environment)
if ($Region) { $cliArgs += @('--region', $Region) }
if ($Yes) { $cliArgs += '--yes' }
if ($DryRun) { $cliArgs += '--dry-run' }
if ($ForceCrossEnv) { $cliArgs += '--force-cross-env' }
& python -m ollama_infra.ops @cliArgs
exit $LASTEXITCODE
