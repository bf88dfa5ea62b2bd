"""GitHub workflows: actionlint and zizmor must report nothing, plus the pipeline's own rules.

actionlint is the WebAssembly build installed by `make node-tools` (package-lock.json);
zizmor comes from the dev extras in .venv and runs offline. Both also run on a deliberately
broken workflow to prove they report problems. The structural rules below (pinned actions,
least-privilege permissions, OIDC without static keys, per-stack concurrency, protected
environments, pinned Pulumi CLI) are checked by functions that each get a broken copy too.
The shell in every `run:` step is checked with shellcheck, and every `ollama-ops`/`make`
command in it with the same checker as the documentation.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from commandcheck import ROOT, Checker, split_pipeline

WORKFLOWS = ROOT / ".github" / "workflows"
EXPECTED = {"ci", "preview", "deploy", "smoke", "loadtest", "ami"}
ACTIONLINT = ROOT / "tests" / "tools" / "actionlint.cjs"
VENV_BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
STACKS = ("dev", "staging", "production")
IN_CI = bool(os.environ.get("CI"))


def load(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict[str, Any]]:
    return {p.stem: load(p) for p in sorted(WORKFLOWS.glob("*.yml"))}


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def test_the_six_workflows_exist(workflows: dict[str, dict[str, Any]]) -> None:
    assert set(workflows) == EXPECTED


# --- external linters -------------------------------------------------------------------------


def _require_tool(available: bool, what: str, fix: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is missing in CI; {fix}")
    pytest.skip(f"{what} is not installed here; {fix}")


def run_actionlint(files: list[Path]) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    _require_tool(node is not None, "node (for actionlint)", "install Node.js 20+")
    _require_tool(
        (ROOT / "node_modules" / "@tktco" / "node-actionlint").is_dir(),
        "actionlint (node_modules)",
        "run `make node-tools`",
    )
    assert node is not None
    return subprocess.run(
        [node, str(ACTIONLINT), *map(str, files)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_zizmor(target: Path) -> list[dict[str, Any]]:
    zizmor = VENV_BIN / "zizmor"
    _require_tool(zizmor.exists(), "zizmor", "run `make install-dev`")
    proc = subprocess.run(
        [str(zizmor), "--offline", "--format", "json", "--no-progress", str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.stdout.strip().startswith("["), proc.stderr[-2000:]
    findings: list[dict[str, Any]] = json.loads(proc.stdout)
    return findings


BROKEN_WORKFLOW = (
    "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    needs: [missing]\n"
    "    steps:\n      - run: echo ${{ github.no_such_property }}\n"
)


@pytest.fixture(scope="module")
def actionlint_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[str], Path]:
    """One actionlint run (the WebAssembly start-up is slow) over the workflows and a broken one."""
    bad = tmp_path_factory.mktemp("actionlint") / "bad.yml"
    bad.write_text(BROKEN_WORKFLOW)
    proc = run_actionlint([*sorted(WORKFLOWS.glob("*.yml")), bad])
    assert proc.returncode in (0, 1) and not proc.stderr.strip(), proc.stderr
    return proc.returncode, proc.stdout.splitlines(), bad


def test_actionlint_reports_nothing_on_the_workflows(
    actionlint_output: tuple[int, list[str], Path],
) -> None:
    _, lines, bad = actionlint_output
    assert [line for line in lines if not line.startswith(str(bad))] == []


def test_actionlint_reports_a_broken_workflow(
    actionlint_output: tuple[int, list[str], Path],
) -> None:
    code, lines, bad = actionlint_output
    reported = "\n".join(line for line in lines if line.startswith(str(bad)))
    assert code == 1
    assert "missing" in reported and "no_such_property" in reported, reported


def test_zizmor_reports_nothing_on_the_repository() -> None:
    """zizmor over the repository: the workflows and the pre-commit configuration."""
    findings = run_zizmor(ROOT)
    assert findings == [], json.dumps(findings, indent=1)[:4000]


def test_zizmor_reports_a_broken_workflow(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request_target\npermissions: write-all\njobs:\n  a:\n    runs-on: ubuntu-24.04\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: echo '${{ github.event.pull_request.title }}'\n"
    )
    idents = {f["ident"] for f in run_zizmor(bad)}
    expected = {"unpinned-uses", "template-injection", "dangerous-triggers", "artipacked"}
    assert expected <= idents, idents


# --- the pipeline's own rules -----------------------------------------------------------------


def pinning_violations(name: str, doc: dict[str, Any]) -> list[str]:
    """Every remote action is pinned to a full commit SHA; checkout never keeps its token."""
    found = []
    for job_id, job in doc.get("jobs", {}).items():
        for step in steps_of(job):
            uses = step.get("uses")
            if uses is None or uses.startswith("./"):
                continue
            if not SHA_PIN.match(uses):
                found.append(f"{name}.{job_id}: {uses} is not pinned to a 40-character SHA")
            keeps_token = step.get("with", {}).get("persist-credentials") is not False
            if uses.startswith("actions/checkout@") and keeps_token:
                found.append(f"{name}.{job_id}: checkout without persist-credentials: false")
    return found


def permission_violations(name: str, doc: dict[str, Any]) -> list[str]:
    """Workflow-level permissions are empty; each job grants only what it uses."""
    found = []
    if doc.get("permissions") != {}:
        found.append(f"{name}: workflow-level permissions must be {{}} (grant per job)")
    for job_id, job in doc.get("jobs", {}).items():
        perms = job.get("permissions")
        if not isinstance(perms, dict):
            found.append(f"{name}.{job_id}: job must declare a permissions map")
            continue
        for scope, level in perms.items():
            if level not in ("read", "write", "none"):
                found.append(f"{name}.{job_id}: {scope}: {level} is not read/write/none")
        writes = {s for s, v in perms.items() if v == "write"}
        assumes_role = any(
            str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
            for s in steps_of(job)
        ) or str(job.get("uses", "")).startswith("./")
        if "id-token" in writes and not assumes_role:
            found.append(f"{name}.{job_id}: id-token: write without an OIDC role assumption")
        text = json.dumps(steps_of(job))
        if "pull-requests" in writes and "gh pr comment" not in text:
            found.append(f"{name}.{job_id}: pull-requests: write but never comments")
        extra = writes - {"id-token", "pull-requests"}
        if extra:
            found.append(f"{name}.{job_id}: unexpected write scopes {sorted(extra)}")
    return found


def oidc_violations(name: str, doc: dict[str, Any]) -> list[str]:
    """AWS access is OIDC only: a role from a repository/environment variable, no keys."""
    found = []
    text = json.dumps(doc)
    for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"):
        if forbidden in text:
            found.append(f"{name}: static AWS credentials ({forbidden}) are not allowed")
    for job_id, job in doc.get("jobs", {}).items():
        for step in steps_of(job):
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                role = str(step.get("with", {}).get("role-to-assume", ""))
                if not re.fullmatch(r"\$\{\{ vars\.[A-Z][A-Z0-9_]* \}\}", role):
                    found.append(f"{name}.{job_id}: role-to-assume must come from vars.*: {role}")
                if job.get("permissions", {}).get("id-token") != "write":
                    found.append(f"{name}.{job_id}: assumes a role without id-token: write")
    return found


def deploy_violations(doc: dict[str, Any]) -> list[str]:
    """Per stack: a deploy job with its environment and concurrency group, then smoke tests."""
    found = []
    jobs = doc.get("jobs", {})
    for stack in STACKS:
        job = jobs.get(f"deploy-{stack}")
        if job is None:
            found.append(f"deploy-{stack} job is missing")
            continue
        if job.get("environment") != stack:
            found.append(f"deploy-{stack}: environment must be {stack} (reviewers live there)")
        conc = job.get("concurrency", {})
        if conc.get("group") != f"pulumi-{stack}" or conc.get("cancel-in-progress") is not False:
            found.append(f"deploy-{stack}: concurrency must be pulumi-{stack}, never cancelled")
        run = " ".join(str(s.get("run", "")) for s in steps_of(job))
        if (
            f"pulumi up --stack {stack}" not in run
            or "--policy-pack ollama_infra/policy" not in run
        ):
            found.append(f"deploy-{stack}: must run pulumi up --stack {stack} with the policy pack")
        smoke = jobs.get(f"smoke-{stack}", {})
        if smoke.get(
            "uses"
        ) != "./.github/workflows/smoke.yml" or f"deploy-{stack}" not in smoke.get("needs", []):
            found.append(f"smoke-{stack}: must call smoke.yml after deploy-{stack}")
    if "smoke-dev" not in jobs.get("deploy-staging", {}).get("needs", []):
        found.append("deploy-staging must wait for the dev smoke tests")
    if "loadtest-staging" not in jobs.get("deploy-production", {}).get("needs", []):
        found.append("deploy-production must wait for the staging load test")
    return found


def pulumi_version_violations(workflows: dict[str, dict[str, Any]]) -> list[str]:
    """Every workflow that installs the Pulumi CLI pins the same version as the SDK."""
    import importlib.metadata

    sdk = importlib.metadata.version("pulumi")
    found = []
    for name, doc in workflows.items():
        if "get.pulumi.com" not in json.dumps(doc):
            continue
        version = doc.get("env", {}).get("PULUMI_VERSION")
        if version != sdk:
            found.append(f"{name}: PULUMI_VERSION {version!r} must pin the SDK version {sdk}")
    return found


def test_actions_are_pinned_and_checkout_drops_its_token(
    workflows: dict[str, dict[str, Any]],
) -> None:
    assert [v for n, d in workflows.items() for v in pinning_violations(n, d)] == []


def test_permissions_are_least_privilege_per_job(workflows: dict[str, dict[str, Any]]) -> None:
    assert [v for n, d in workflows.items() for v in permission_violations(n, d)] == []


def test_aws_access_is_oidc_only(workflows: dict[str, dict[str, Any]]) -> None:
    assumed = [n for n, d in workflows.items() if "configure-aws-credentials" in json.dumps(d)]
    assert set(assumed) == {"preview", "deploy", "smoke", "loadtest", "ami"}
    assert [v for n, d in workflows.items() for v in oidc_violations(n, d)] == []


def test_deploy_pipeline_order_environments_and_concurrency(
    workflows: dict[str, dict[str, Any]],
) -> None:
    assert deploy_violations(workflows["deploy"]) == []


def test_pulumi_cli_is_pinned_to_the_sdk_version(workflows: dict[str, dict[str, Any]]) -> None:
    assert pulumi_version_violations(workflows) == []


def test_triggers(workflows: dict[str, dict[str, Any]]) -> None:
    on = {name: doc["on"] for name, doc in workflows.items()}
    assert {"pull_request", "push"} <= set(on["ci"])
    assert set(on["preview"]) == {"pull_request"}
    assert on["deploy"]["push"]["branches"] == ["main"]
    assert {"workflow_call", "workflow_dispatch"} <= set(on["smoke"])
    assert {"workflow_call", "workflow_dispatch"} <= set(on["loadtest"])
    assert {"schedule", "workflow_dispatch"} <= set(on["ami"])
    ci = json.dumps(workflows["ci"])
    assert "bash .ci/run" in ci and "make plan-all" in ci, "CI runs the README's test command"
    preview = json.dumps(workflows["preview"])
    assert "--policy-pack ollama_infra/policy" in preview and "gh pr comment" in preview


def test_rules_catch_broken_workflows(workflows: dict[str, dict[str, Any]]) -> None:
    """Each rule reports a deliberately broken copy of a real workflow."""
    deploy = workflows["deploy"]

    unpinned = copy.deepcopy(deploy)
    unpinned["jobs"]["deploy-dev"]["steps"][0]["uses"] = "actions/checkout@v4"
    assert pinning_violations("deploy", unpinned)

    keeps_token = copy.deepcopy(deploy)
    keeps_token["jobs"]["deploy-dev"]["steps"][0]["with"] = {}
    assert pinning_violations("deploy", keeps_token)

    broad = copy.deepcopy(deploy)
    broad["permissions"] = "write-all"
    broad["jobs"]["deploy-dev"]["permissions"]["contents"] = "write"
    assert len(permission_violations("deploy", broad)) == 2

    needless_oidc = copy.deepcopy(workflows["ci"])
    needless_oidc["jobs"]["plan"]["permissions"]["id-token"] = "write"
    assert permission_violations("ci", needless_oidc)

    static = copy.deepcopy(deploy)
    creds = static["jobs"]["deploy-dev"]["steps"][4]
    assert creds["uses"].startswith("aws-actions/configure-aws-credentials@")
    creds["with"] = {"aws-access-key-id": "${{ secrets.KEY }}", "role-to-assume": "arn:aws:x"}
    assert len(oidc_violations("deploy", static)) == 2

    unprotected = copy.deepcopy(deploy)
    del unprotected["jobs"]["deploy-production"]["environment"]
    unprotected["jobs"]["deploy-staging"]["concurrency"]["cancel-in-progress"] = True
    unprotected["jobs"]["deploy-production"]["needs"] = ["smoke-staging"]
    assert len(deploy_violations(unprotected)) == 3

    floating = copy.deepcopy(workflows)
    floating["preview"]["env"]["PULUMI_VERSION"] = "latest"
    assert pulumi_version_violations(floating)


# --- shell and commands inside run: steps --------------------------------------------------


def run_scripts(workflows: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(where, script) for every bash `run:` step, with ${{ }} expressions made shell-safe."""
    out = []
    for name, doc in workflows.items():
        for job_id, job in doc.get("jobs", {}).items():
            for i, step in enumerate(steps_of(job)):
                if "run" in step and step.get("shell", "bash") == "bash":
                    script = re.sub(r"\$\{\{[^}]*\}\}", "GHA_EXPRESSION", step["run"])
                    out.append((f"{name}.{job_id}.steps[{i}]", script))
    return out


def shellcheck_findings(script: str, tmp_path: Path) -> str:
    shellcheck = VENV_BIN / "shellcheck"
    _require_tool(shellcheck.exists(), "shellcheck", "run `make install-dev`")
    target = tmp_path / "step.sh"
    # GitHub runs bash steps as `bash -e {0}`.
    target.write_text("#!/usr/bin/env bash\nset -e\n" + script)
    proc = subprocess.run(
        [str(shellcheck), "--severity=style", str(target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.stdout


def test_run_steps_pass_shellcheck(workflows: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    scripts = run_scripts(workflows)
    assert len(scripts) > 15
    problems = {where: out for where, s in scripts if (out := shellcheck_findings(s, tmp_path))}
    assert problems == {}, "\n".join(f"{k}:\n{v}" for k, v in problems.items())


def test_shellcheck_reports_a_broken_run_step(tmp_path: Path) -> None:
    assert "SC2086" in shellcheck_findings("rm -rf build/$1\n", tmp_path)


CHECKED_RUN_HEADS = ("make", ".venv/bin/ollama-ops", ".venv/bin/pytest", ".venv/bin/locust")


def test_ollama_ops_and_make_commands_in_run_steps_exist(
    workflows: dict[str, dict[str, Any]],
) -> None:
    """ollama-ops subcommands/flags, make targets, and the test and locust files the
    workflows run are real."""
    checker = Checker()
    problems = []
    checked = 0
    for where, script in run_scripts(workflows):
        for line in script.replace("\\\n", " ").splitlines():
            for words in split_pipeline(line.replace('"$STACK"', "dev")):
                if words and words[0] in CHECKED_RUN_HEADS:
                    checked += 1
                    problems += [f"{where}: {p}" for p in checker.check(" ".join(words))]
    assert checked >= 15
    assert problems == []


# --- pre-commit mirrors CI ----------------------------------------------------------------

PRE_COMMIT = ROOT / ".pre-commit-config.yaml"
CI_TOOLS = ("ruff check", "ruff format", "mypy", "shellcheck", "actionlint", "zizmor", "packer")


def pre_commit_violations(config: dict[str, Any]) -> list[str]:
    """Local hooks only (nothing to download), every CI tool present, `make test` on push."""
    found = []
    hooks = []
    for repo in config.get("repos", []):
        if repo.get("repo") != "local":
            found.append(f"hook repository {repo.get('repo')} would be fetched; use local hooks")
        hooks += repo.get("hooks", [])
    entries = " | ".join(str(h.get("entry", "")) for h in hooks)
    found += [f"no hook runs {tool}" for tool in CI_TOOLS if tool not in entries]
    if not any(h.get("entry") == "make test" and "pre-push" in h.get("stages", []) for h in hooks):
        found.append("no pre-push hook runs `make test`")
    return found


def test_pre_commit_config_is_valid_and_runs_the_ci_checks() -> None:
    pre_commit = VENV_BIN / "pre-commit"
    _require_tool(pre_commit.exists(), "pre-commit", "run `make install-dev`")
    proc = subprocess.run(
        [str(pre_commit), "validate-config", str(PRE_COMMIT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert pre_commit_violations(yaml.safe_load(PRE_COMMIT.read_text(encoding="utf-8"))) == []


def test_pre_commit_rules_catch_a_drifted_config() -> None:
    config = yaml.safe_load(PRE_COMMIT.read_text(encoding="utf-8"))
    drifted = copy.deepcopy(config)
    drifted["repos"][0]["hooks"] = [
        h for h in drifted["repos"][0]["hooks"] if h["id"] not in ("zizmor", "make-test")
    ]
    drifted["repos"].append({"repo": "https://example.invalid/hooks", "rev": "v1", "hooks": []})
    problems = pre_commit_violations(drifted)
    assert len(problems) == 3, problems
