"""KMS key policies (CKV2_AWS_64): every key the stacks create has an explicit policy whose
service statements point at the key's own region.

Checked on the resource records of every real stack file (offline Pulumi mocks, a test double
for AWS); the check is shown failing on deliberately broken records.
"""

from __future__ import annotations

import json

import pytest
from harness import STACKS, evaluated, replace_record
from test_data import provider_region

from ollama_infra.offline.evaluate import Evaluation

KEY = "aws:kms/key:Key"


def key_policy_violations(ev: Evaluation) -> list[str]:
    out = []
    for key in ev.of_type(KEY):
        raw = key.inputs.get("policy")
        if not raw:
            out.append(f"{key.name}: no key policy")
            continue
        region = provider_region(ev, key)
        for statement in json.loads(raw)["Statement"]:
            via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
            for endpoint in [via] if isinstance(via, str) else via or []:
                if not endpoint.endswith(f".{region}.amazonaws.com"):
                    out.append(f"{key.name}: {statement['Sid']} names {endpoint} (key in {region})")
    return out


@pytest.mark.parametrize("stack", STACKS)
def test_every_key_has_a_policy_scoped_to_its_region(stack: str) -> None:
    ev = evaluated(stack)
    assert ev.of_type(KEY), "the stack creates keys"
    assert key_policy_violations(ev) == []


def test_backup_and_dr_keys_name_their_service() -> None:
    ev = evaluated("production")
    expected = {
        "ollama-backup-vault-key": "backup.us-east-1.amazonaws.com",
        "ollama-backup-copy-vault-key": "backup.us-west-2.amazonaws.com",
        "ollama-data-storage-dr-key": "s3.us-west-2.amazonaws.com",
    }
    for name, endpoint in expected.items():
        statements = json.loads(ev.named(name).inputs["policy"])["Statement"]
        assert statements[0]["Sid"] == "AccountAdministration"
        vias = [s["Condition"]["StringEquals"]["kms:ViaService"] for s in statements[1:]]
        assert vias == [endpoint], (name, vias)


def test_key_policy_check_catches_broken_records() -> None:
    ev = evaluated("production")
    unset = replace_record(ev, "ollama-backup-vault-key", policy=None)
    assert key_policy_violations(unset) == ["ollama-backup-vault-key: no key policy"]
    dr = ev.named("ollama-data-storage-dr-key").inputs["policy"]
    wrong_region = replace_record(
        ev, "ollama-data-storage-dr-key", policy=dr.replace("us-west-2", "us-east-1")
    )
    assert key_policy_violations(wrong_region) == [
        "ollama-data-storage-dr-key: ReplicaThroughS3 names s3.us-east-1.amazonaws.com "
        "(key in us-west-2)"
    ]
