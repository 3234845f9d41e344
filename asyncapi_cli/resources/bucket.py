"""The S3 results bucket: private, encrypted, emptied (every version) before deletion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import Change, Context, Found
from ..errors import AwsError
from . import ignore_not_found, or_none

PUBLIC_ACCESS_BLOCK = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ENCRYPTION = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}


@dataclass
class ResultsBucket:
    key: str = "bucket"
    kind: str = "s3-bucket"
    depends_on: tuple[str, ...] = ()

    def name(self, ctx: Context) -> str:
        return ctx.names.bucket

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name(ctx), "arn": f"arn:{ctx.partition}:s3:::{self.name(ctx)}"}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        s3 = ctx.clients("s3")
        try:
            s3.head_bucket(Bucket=self.name(ctx))
        except Exception as exc:
            code = error_code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                return None
            if code in {"403", "AccessDenied"}:
                raise AwsError(
                    f"bucket {self.name(ctx)} exists but belongs to someone else; choose another --name"
                ) from None
            raise
        block = _setting(lambda: s3.get_public_access_block(Bucket=self.name(ctx)))
        encryption = _setting(lambda: s3.get_bucket_encryption(Bucket=self.name(ctx)))
        observed = {
            "PublicAccessBlock": (block or {}).get("PublicAccessBlockConfiguration"),
            "Encryption": _algorithm((encryption or {}).get("ServerSideEncryptionConfiguration")),
        }
        return Found(self.placeholder(ctx), observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        changes = []
        if found.observed.get("PublicAccessBlock") != PUBLIC_ACCESS_BLOCK:
            changes.append(
                Change("PublicAccessBlock", found.observed.get("PublicAccessBlock"), PUBLIC_ACCESS_BLOCK)
            )
        if found.observed.get("Encryption") not in {"AES256", "aws:kms", "aws:kms:dsse"}:
            changes.append(Change("Encryption", found.observed.get("Encryption"), "AES256"))
        return changes

    def create(self, ctx: Context) -> dict[str, Any]:
        s3 = ctx.clients("s3")
        params: dict[str, Any] = {"Bucket": self.name(ctx)}
        # us-east-1 takes no LocationConstraint (AWS rejects one naming it); every other region needs one.
        if ctx.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        try:
            s3.create_bucket(**params)
        except Exception as exc:
            if error_code(exc) == "BucketAlreadyExists":
                raise AwsError(
                    f"bucket name {self.name(ctx)} is taken by another account; choose another --name"
                ) from None
            if error_code(exc) != "BucketAlreadyOwnedByYou":
                raise
        self._secure(ctx)
        s3.put_bucket_tagging(
            Bucket=self.name(ctx), Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in ctx.tags.items()]}
        )
        return self.placeholder(ctx)

    def _secure(self, ctx: Context) -> None:
        s3 = ctx.clients("s3")
        s3.put_public_access_block(Bucket=self.name(ctx), PublicAccessBlockConfiguration=PUBLIC_ACCESS_BLOCK)
        s3.put_bucket_encryption(Bucket=self.name(ctx), ServerSideEncryptionConfiguration=ENCRYPTION)

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        self._secure(ctx)
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        s3 = ctx.clients("s3")
        name = record["name"]
        # Every object version and delete marker must go before the bucket can.
        paginator = s3.get_paginator("list_object_versions")
        try:
            for page in paginator.paginate(Bucket=name):
                doomed = [
                    {"Key": item["Key"], "VersionId": item["VersionId"]}
                    for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
                ]
                for start in range(0, len(doomed), 1000):
                    s3.delete_objects(
                        Bucket=name, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
                    )
        except Exception as exc:
            if error_code(exc) not in {"NoSuchBucket", "404"}:
                raise
            return
        ignore_not_found(lambda: s3.delete_bucket(Bucket=name))


MISSING_SETTING_CODES = frozenset(
    {"NoSuchPublicAccessBlockConfiguration", "ServerSideEncryptionConfigurationNotFoundError"}
)


def _setting(call: Any) -> dict[str, Any] | None:
    """A bucket setting, or None when it was never set (or was removed behind our back)."""
    try:
        return or_none(call)
    except Exception as exc:
        if error_code(exc) in MISSING_SETTING_CODES:
            return None
        raise


def _algorithm(configuration: dict[str, Any] | None) -> str | None:
    for rule in (configuration or {}).get("Rules", []):
        algorithm = (rule.get("ApplyServerSideEncryptionByDefault") or {}).get("SSEAlgorithm")
        if algorithm:
            return str(algorithm)
    return None
