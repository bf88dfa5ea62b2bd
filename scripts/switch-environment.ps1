<#
.SYNOPSIS
    Show the selected stack, or switch to another one after validating its config.
.DESCRIPTION
    Thin wrapper over `ollama-ops env show` and `ollama-ops env switch`.
    Runs the repository's .venv (make install) without activating it; else python on PATH.
.PARAMETER Environment
    Stack to select: dev, staging, production, or a DR stack <env>-<region> such as
    production-us-west-2 (--stack). Omit it to show the selected stack.
.PARAMETER Json
    With no -Environment: print the selection as JSON (--json).
#>
[CmdletBinding()]
param(
    [ValidatePattern('^(dev|staging|production)(-[a-z]{2}(-gov)?-[a-z]+-\d)?$')]
    [string]$Environment,
    [switch]$Json
)

$ErrorActionPreference = 'Stop'
if ($Environment) {
    $cliArgs = @('env', 'switch', '--stack', $Environment)
} else {
    $cliArgs = @('env', 'show')
    if ($Json) { $cliArgs += '--json' }
}
$root = Split-Path -Parent $PSScriptRoot
$python = @('.venv/bin/python', '.venv/Scripts/python.exe') |
    ForEach-Object { Join-Path $root $_ } | Where-Object { Test-Path $_ } | Select-Object -First 1
if (-not $python) { $python = 'python' }
& $python -m ollama_infra.ops @cliArgs
exit $LASTEXITCODE
