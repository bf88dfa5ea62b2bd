"""The pack itself: how it loads under Pulumi, unknown values, provider default tags, and
how ``ollama-ops plan`` reports results and exits."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import evaluated, replace_record
from policy_records import PROD_TAGS, bucket_set, launch_template, plan, rec
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from ollama_infra.offline.evaluate import Evaluation, ResourceRecord
from ollama_infra.ops.cli import main
from ollama_infra.ops.common import EXIT_OK, EXIT_POLICY
from ollama_infra.policy.evaluate import evaluate_policies, resource_args
from ollama_infra.policy.pack import RULES, policies, rule

ROOT = Path(__file__).resolve().parents[2]
PACK_DIR = ROOT / "ollama_infra" / "policy"
VPC = "aws:ec2/vpc:Vpc"
PROVIDER = "pulumi:providers:aws"


# ---------------------------------------------------------------------------- the pack


def test_pack_declares_every_rule_once_with_its_level() -> None:
    built = policies()
    assert [p.name for p in built] == [r.name for r in RULES]
    assert len({p.name for p in built}) == len(built)
    for r, p in zip(RULES, built, strict=True):
        assert isinstance(p, StackValidationPolicy if r.stack else ResourceValidationPolicy)
        want = EnforcementLevel.ADVISORY if r.advisory_reason else EnforcementLevel.MANDATORY
        assert p.enforcement_level == want, r.name
        assert r.types, f"{r.name} names no resource types"


def test_resource_policies_look_only_at_their_own_types() -> None:
    """The engine hands every resource to every resource policy: a rule's function sees only
    the types it declares (a topic without a KMS key is no finding of log-group-kms)."""
    topic = rec("aws:sns/topic:Topic", "ollama-obs-alerts")
    group = rec("aws:cloudwatch/logGroup:LogGroup", "ollama-obs-app", retentionInDays=30.0)
    policy = rule("log-group-kms").build()
    found: list[str] = []
    for record in (topic, group):
        policy.validate(
            resource_args(record, "production", None), lambda msg, urn=None: found.append(msg)
        )
    assert len(found) == 1 and "'ollama-obs-app'" in found[0]


def test_advisory_rules_say_why() -> None:
    advisory = [r for r in RULES if r.level == EnforcementLevel.ADVISORY]
    assert advisory, "expected the documented advisory rules"
    for r in advisory:
        assert r.advisory_reason and len(r.advisory_reason) > 40, r.name


def test_pulumi_policy_yaml_and_requirements() -> None:
    meta = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert meta["runtime"]["name"] == "python"
    reqs = {
        line.split("==")[0]: line.split("==")[1]
        for line in (PACK_DIR / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    pyproject = (ROOT / "pyproject.toml").read_text()
    for name, version in reqs.items():
        assert f'"{name}=={version}"' in pyproject, f"{name}=={version} differs from pyproject"
    assert {"pulumi-policy", "pulumi-aws"} <= set(reqs)


def test_pack_modules_do_not_shadow_the_standard_library() -> None:
    """Pulumi puts the pack directory first on sys.path, so a rules file named like a
    standard module (e.g. secrets.py) would replace it for every library."""
    names = {p.stem for p in PACK_DIR.glob("*.py")}
    assert not names & set(sys.stdlib_module_names)


def test_pack_entry_point_loads_like_pulumi_runs_it(tmp_path: Path) -> None:
    """Pulumi runs the directory with runpy; with another run_name the server is not started."""
    code = (
        "import runpy, sys\n"
        f"g = runpy.run_path({str(PACK_DIR)!r}, run_name='pack_check')\n"
        "print(len(g['policies']()), g['PACK_NAME'])\n"
        "from ollama_infra.policy import rules_network\n"
        "assert 'ollama_infra.edge' not in sys.modules\n"
        "assert 'ollama_infra.config' not in sys.modules  # pydantic is not in the pack venv\n"
        "print('ap-southeast-3' in rules_network.cloudfront_log_unsupported_regions())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(len(RULES)), "ollama-security", "True"]


# ---------------------------------------------------------------------------- unknowns


def test_unknown_value_is_advisory_not_a_violation() -> None:
    """During preview a computed value is unknown: the rule cannot decide, so the result is an
    advisory note (as pulumi_policy reports it), never a mandatory violation."""
    lt = launch_template(metadataOptions={"httpTokens": UNKNOWN_STRING_VALUE})
    result = evaluate_policies(plan(lt), rules=[rule("launch-template-imdsv2")]).results[0]
    assert result.violations == []
    assert result.status == "unknown"
    assert "during preview" in result.unknown[0] and "httpTokens" in result.unknown[0]


def test_unknown_bucket_reference_makes_stack_rule_advisory() -> None:
    records = bucket_set(pab={})
    ver = next(r for r in records if r.name.endswith("-ver"))
    unknown = ResourceRecord(
        ver.type,
        ver.name,
        {**ver.inputs, "bucket": UNKNOWN_STRING_VALUE},
        True,
        None,
        ver.id,
        {**ver.state, "bucket": UNKNOWN_STRING_VALUE},
    )
    records = [unknown if r is ver else r for r in records]
    report = evaluate_policies(plan(*records), rules=[rule("s3-versioning")])
    assert report.passed and report.results[0].status == "unknown"


# ---------------------------------------------------------------------------- default tags


def _provider(inputs: dict[str, Any]) -> ResourceRecord:
    return ResourceRecord(PROVIDER, "ollama-aws", inputs, True, None, "prov-1", dict(inputs))


def _tagged_by_provider(tags: dict[str, str]) -> ResourceRecord:
    ref = "urn:pulumi:production::ollama::pulumi:providers:aws::ollama-aws::prov-1"
    return ResourceRecord(VPC, "ollama-network-vpc", {"tags": tags}, True, ref, "vpc-1", {})


def test_required_tags_merge_explicit_provider_default_tags() -> None:
    base = {k: v for k, v in PROD_TAGS.items() if k != "Service"}
    provider = _provider({"defaultTags": json.dumps({"tags": base}), "region": "us-east-1"})
    ok = evaluate_policies(
        plan(provider, _tagged_by_provider({"Service": "network"})), rules=[rule("required-tags")]
    )
    assert ok.passed, [v.message for v in ok.violations]
    bare = evaluate_policies(
        plan(_provider({"region": "us-east-1"}), _tagged_by_provider({"Service": "network"})),
        rules=[rule("required-tags")],
    )
    assert [v.resource for v in bare.mandatory_violations] == ["ollama-network-vpc"]


# ---------------------------------------------------------------------------- ollama-ops plan


def _compliant() -> Evaluation:
    return plan(rec(VPC, "ollama-network-vpc", tags=PROD_TAGS), stack="dev")


def test_plan_reports_policy_results_in_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("ollama_infra.ops.plan.evaluate", lambda stack, values: _compliant())
    assert main(["plan", "--stack", "dev", "--json"]) == EXIT_OK
    doc = json.loads(capsys.readouterr().out)
    policy = doc["policy"]
    assert policy["passed"] is True and policy["mandatory_violations"] == 0
    assert [r["name"] for r in policy["rules"]] == [r.name for r in RULES]
    tags = next(r for r in policy["rules"] if r["name"] == "required-tags")
    assert tags["status"] == "pass" and tags["checked"] == 1


def test_plan_exits_with_policy_code_on_a_mandatory_violation(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ev = evaluated("dev")
    lt = ev.of_type("aws:ec2/launchTemplate:LaunchTemplate")[0]
    broken = replace_record(ev, lt.name, metadataOptions={"httpTokens": "optional"})
    monkeypatch.setattr("ollama_infra.ops.plan.evaluate", lambda stack, values: broken)
    assert main(["plan", "--stack", "dev"]) == EXIT_POLICY
    captured = capsys.readouterr()
    assert re.search(r"\[FAIL\s*\] launch-template-imdsv2", captured.out)
    assert f"'{lt.name}'" in captured.out and "http_tokens" in captured.out
    assert "mandatory policy violation" in captured.err


def test_security_doc_lists_every_rule_with_its_scanner_ids_and_level() -> None:
    doc = (ROOT / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(0) for m in re.finditer(r"^\| `([a-z0-9-]+)` \|.*\|$", doc, flags=re.M)
    }
    for r in RULES:
        assert r.name in rows, f"docs/SECURITY.md has no row for {r.name}"
        row = rows[r.name]
        for check in (*r.checkov, *r.trivy):
            assert check in row, f"{r.name}: {check} missing from its docs/SECURITY.md row"
        assert row.rstrip(" |").endswith(r.level.value), f"{r.name}: level differs"
        if r.advisory_reason:
            assert f"- `{r.name}`:" in doc, f"{r.name}: advisory reason not documented"
