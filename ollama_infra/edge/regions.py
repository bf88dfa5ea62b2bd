"""Per-region facts the edge needs and no API answers reliably offline.

Kept as tables (not ``aws.elb.get_service_account``) so the log-bucket policy is decided
at declaration time, is the same in a preview as in an apply, and can be tested for any
region without AWS.
"""

from __future__ import annotations

# Regions available before August 2022 deliver ALB access logs from a regional ELB account
# (Jakarta, ap-southeast-3, opened December 2021, is the last of them); the bucket policy
# must name that account. Regions opened from August 2022 on (me-central-1 and later) have
# none and use the logdelivery.elasticloadbalancing.amazonaws.com service principal.
# Sources (docs/UPSTREAM.md): the ELB user guide, "Enable access logs" (bucket permissions),
# and the same table in hashicorp/terraform-provider-aws
# internal/service/elb/service_account_data_source.go; a test keeps this table equal to the
# register's copy.
ELB_LOG_DELIVERY_ACCOUNTS: dict[str, str] = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "af-south-1": "098369216593",
    "ap-east-1": "754344448648",
    "ap-south-1": "718504428378",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-southeast-3": "589379963580",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "eu-south-1": "635631232127",
    "eu-north-1": "897822967062",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "us-gov-west-1": "048591011584",
    "us-gov-east-1": "190560391635",
    "cn-north-1": "638102146993",
    "cn-northwest-1": "037604701340",
}
ELB_LOG_DELIVERY_SERVICE = "logdelivery.elasticloadbalancing.amazonaws.com"

# Opt-in regions: CloudFront standard logging (legacy) does not deliver to buckets there.
CLOUDFRONT_LOG_UNSUPPORTED_REGIONS: frozenset[str] = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-south-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-west-1",
        "eu-central-2",
        "eu-south-1",
        "eu-south-2",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
    }
)


def alb_log_principal(region: str, partition: str = "aws") -> dict[str, str]:
    """The bucket-policy principal that may write ALB access logs in ``region``."""
    account = ELB_LOG_DELIVERY_ACCOUNTS.get(region)
    if account is not None:
        return {"AWS": f"arn:{partition}:iam::{account}:root"}
    return {"Service": ELB_LOG_DELIVERY_SERVICE}


def cloudfront_can_log_to(region: str) -> bool:
    """Whether CloudFront standard logging can deliver to a bucket in ``region``."""
    return region not in CLOUDFRONT_LOG_UNSUPPORTED_REGIONS
