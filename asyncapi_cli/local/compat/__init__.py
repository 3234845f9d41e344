"""The embedded AWS's one seam to the internals of the libraries it builds on: the patch registry
(registry.py) and moto's patches (moto_sqs, moto_fixes, moto_routing, moto_dynamodb, moto_iam). The
services that need a hook in a library (the gateway's VTL in airspeed, SQS move tasks, IAM enforcement...)
register their patches here too, beside the code they serve; nothing is patched but through
`REGISTRY.apply()`."""

from . import moto_dynamodb, moto_dynamodb_trees, moto_fixes, moto_iam, moto_routing, moto_sqs  # noqa: F401  (they register their patches)
from .registry import REGISTRY, CompatError, Patch

__all__ = ["REGISTRY", "CompatError", "Patch"]
