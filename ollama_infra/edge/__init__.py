"""The edge: access-log bucket, ALB, CloudFront and WAF (three components, built in order).

``LogBucketComponent`` comes first (other components log into it), ``AlbComponent`` before
compute (the ASG registers with its target groups), ``CdnComponent`` last (it needs the ALB).
"""

from ollama_infra.edge.alb import AlbArgs, AlbComponent
from ollama_infra.edge.cdn import CdnArgs, CdnComponent
from ollama_infra.edge.log_bucket import LogBucketArgs, LogBucketComponent

__all__ = [
    "AlbArgs",
    "AlbComponent",
    "CdnArgs",
    "CdnComponent",
    "LogBucketArgs",
    "LogBucketComponent",
]
