<#
.SYNOPSIS
    Delete every resource of a stack (typed confirmation; production needs -Production).
.DESCRIPTION
    Thin wrapper over `ollama-ops destroy`: each parameter maps to one flag of that command.
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
.PARAMETER BackupFirst
    Back up the table before destroying (--backup-first)
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
    [switch]$BackupFirst,
    [switch]$ForceCrossEnv
)

$ErrorActionPreference = 'Stop'
$cliArgs = @('destroy', '--stack', $Environment)
if ($Region) { $cliArgs += @('--region', $Region) }
if ($Yes) { $cliArgs += '--yes' }
if ($DryRun) { $cliArgs += '--dry-run' }
if ($Production) { $cliArgs += '--production' }
if ($BackupFirst) { $cliArgs += '--backup-first' }
if ($ForceCrossEnv) { $cliArgs += '--force-cross-env' }
& python -m ollama_infra.ops @cliArgs
exit $LASTEXITCODE
