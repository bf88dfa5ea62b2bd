<#
.SYNOPSIS
    Show the selected stack, or switch to another one after validating its config.
.DESCRIPTION
    Thin wrapper over `ollama-ops env show` and `ollama-ops env switch`.
    Run from the repository root with the project's virtualenv active.
.PARAMETER Environment
    Stack to select: dev, staging or production (--stack). Omit it to show the selected stack.
.PARAMETER Json
    With no -Environment: print the selection as JSON (--json).
#>
[CmdletBinding()]
param(
    [ValidateSet('dev', 'staging', 'production')]
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
& python -m ollama_infra.ops @cliArgs
exit $LASTEXITCODE
