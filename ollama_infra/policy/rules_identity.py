"""IAM: least privilege in every policy document the stack declares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ollama_infra.policy.common import (
    Report,
    as_list,
    flag,
    get,
    policy,
    policy_document,
    principals,
    statements,
    strings,
)

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
POLICY = "aws:iam/policy:Policy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"
# Resources that carry identity policy documents.
IAM_DOC_TYPES = (ROLE, ROLE_POLICY, POLICY, USER_POLICY, GROUP_POLICY)

# AWS managed policies that grant (near) administrator rights.
ADMIN_POLICIES = (
    "AdministratorAccess",
    "IAMFullAccess",
    "PowerUserAccess",
    "AWSOrganizationsFullAccess",
)


def identity_documents(args: Any) -> list[tuple[str, Mapping[str, Any] | None]]:
    """(where, document) for every identity policy a resource of ``IAM_DOC_TYPES`` carries."""
    p = args.props
    if args.resource_type == ROLE:
        return [
            (f"inline_policies[{get(ip, 'name')}]", policy_document(get(ip, "policy")))
            for ip in as_list(p.get("inlinePolicies"))
        ]
    return [("policy", policy_document(p.get("policy")))]


def _allows(doc: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return [s for s in statements(doc) if s.get("Effect") == "Allow"]


def _full_wildcard(action: str) -> bool:
    return action == "*" or (action.endswith(":*") and action.count("*") == 1)


@policy(
    "iam-no-wildcard-actions",
    "IAM policies allow no '*' or '<service>:*' actions (and no NotAction).",
    *IAM_DOC_TYPES,
    checkov=("CKV_AWS_62", "CKV_AWS_63"),
    trivy=("AVD-AWS-0057 (deprecated)", "AVD-AWS-0345"),
)
def iam_no_wildcard_actions(args: Any, report: Report) -> None:
    for where, doc in identity_documents(args):
        for st in _allows(doc):
            actions = strings(st.get("Action"))
            wild = [a for a in actions if _full_wildcard(a)]
            if st.get("NotAction") is not None:
                wild.append(f"NotAction {strings(st.get('NotAction'))}")
            if wild:
                admin = "*" in wild and "*" in strings(st.get("Resource"))
                flag(
                    report,
                    args,
                    f"{where} statement {st.get('Sid', '')!r} allows "
                    f"{'full administrator access' if admin else 'wildcard actions'} {wild}",
                    "list the exact actions the instance needs (e.g. 's3:GetObject', "
                    "'ssm:GetParameter')",
                )


@policy(
    "iam-wildcard-resources-need-conditions",
    "IAM statements on Resource '*' carry a Condition.",
    *IAM_DOC_TYPES,
    checkov=("CKV_AWS_355",),
)
def iam_wildcard_resource_conditions(args: Any, report: Report) -> None:
    for where, doc in identity_documents(args):
        for st in _allows(doc):
            if "*" in strings(st.get("Resource")) and not st.get("Condition"):
                flag(
                    report,
                    args,
                    f"{where} statement {st.get('Sid', '')!r} allows "
                    f"{strings(st.get('Action'))} on Resource '*' without a condition",
                    "scope Resource to the stack's ARNs (table, bucket, parameter path, "
                    "secret prefix, log groups), or, for actions that only accept '*', add "
                    "a Condition (e.g. cloudwatch:namespace, aws:RequestedRegion)",
                )


def _managed_arns(args: Any) -> list[str]:
    p = args.props
    if args.resource_type in (ATTACHMENT, POLICY_ATTACHMENT):
        return strings(p.get("policyArn"))
    if args.resource_type == ROLE:
        return strings(p.get("managedPolicyArns"))
    return []


@policy(
    "iam-no-admin-policies",
    "No administrator-level AWS managed policy is attached.",
    ROLE,
    ATTACHMENT,
    POLICY_ATTACHMENT,
    checkov=("CKV_AWS_274", "CKV_AWS_275", "CKV2_AWS_40", "CKV2_AWS_56"),
)
def iam_no_admin_policies(args: Any, report: Report) -> None:
    for arn in _managed_arns(args):
        if arn.rsplit("/", 1)[-1] in ADMIN_POLICIES and ":aws:policy/" in arn:
            flag(
                report,
                args,
                f"attaches the administrator-level managed policy {arn}",
                "attach AmazonSSMManagedInstanceCore and scoped inline policies instead",
            )


@policy(
    "iam-trust-policy",
    "Role trust policies name specific principals, never '*'.",
    ROLE,
    checkov=("CKV_AWS_60", "CKV_AWS_61"),
)
def iam_trust_policy(args: Any, report: Report) -> None:
    doc = policy_document(args.props.get("assumeRolePolicy"))
    for st in _allows(doc):
        for principal in principals(st):
            if principal == "*" or (principal.endswith(":root") and not st.get("Condition")):
                flag(
                    report,
                    args,
                    f"trust policy lets {principal!r} assume the role",
                    "trust a service principal (e.g. ec2.amazonaws.com) or a specific "
                    "role ARN, with aws:SourceAccount or sts:ExternalId conditions",
                )


KMS_KEY = "aws:kms/key:Key"


@policy(
    "kms-key-policy",
    "KMS keys carry an explicit key policy: only the account administers the key, and every "
    "other use is conditioned.",
    KMS_KEY,
    checkov=("CKV2_AWS_64",),
)
def kms_key_policy(args: Any, report: Report) -> None:
    raw = args.props.get("policy")
    doc = policy_document(raw)
    if not raw or doc is None:
        flag(
            report,
            args,
            "key has no explicit key policy (KMS applies its default: the account root may "
            "do everything)",
            "declare the key with builders.customer_key(..., statements=[<one per service that "
            "uses the key>])",
        )
        return
    for statement in statements(doc):
        if statement.get("Effect") != "Allow":
            continue
        who = principals(statement)
        actions = strings(statement.get("Action"))
        if "kms:*" in actions and not all(p.endswith(":root") for p in who):
            flag(
                report,
                args,
                f"statement {statement.get('Sid', '?')!r} gives kms:* to {', '.join(who)}",
                "keep kms:* for the account root (AccountAdministration); grant services only "
                "the actions they call",
            )
        elif "kms:*" not in actions and not statement.get("Condition"):
            flag(
                report,
                args,
                f"statement {statement.get('Sid', '?')!r} lets {', '.join(who) or 'anyone'} use "
                "the key without a condition",
                "scope the use with kms:ViaService and kms:CallerAccount (or aws:SourceAccount "
                "for a service principal)",
            )
