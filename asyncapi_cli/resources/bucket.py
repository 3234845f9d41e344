"""An S3 bucket with a public access block and default encryption, emptied (every version) before deletion."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..aws import error_code
from ..engine import Change, Context, Found
from ..errors import AwsError
from . import Resource, ignore_not_found, note_already_gone, or_none

PUBLIC_ACCESS_BLOCK = "PublicAccessBlockConfiguration"
ENCRYPTION = "ServerSideEncryptionConfiguration"
MISSING_SETTING_CODES = frozenset(
    {"NoSuchPublicAccessBlockConfiguration", "ServerSideEncryptionConfigurationNotFoundError"}
)


@dataclass(kw_only=True)
class Bucket(Resource):
    """attributes: PublicAccessBlockConfiguration and ServerSideEncryptionConfiguration, as S3 takes them."""

    kind = "s3-bucket"
    known_before_create = frozenset({"name", "arn"})

    def placeholder(self, ctx: Context) -> dict[str, Any]:
        return {"name": self.name, "arn": f"arn:{ctx.partition}:s3:::{self.name}"}

    def find(self, ctx: Context, recorded: dict[str, Any] | None) -> Found | None:
        s3 = ctx.clients("s3")
        try:
            s3.head_bucket(Bucket=self.name)
        except Exception as exc:
            code = error_code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                return None
            if code in {"403", "AccessDenied"}:
                raise AwsError(
                    f"bucket {self.name} exists but belongs to someone else; choose another --name"
                ) from None
            raise
        block = _setting(lambda: s3.get_public_access_block(Bucket=self.name))
        encryption = _setting(lambda: s3.get_bucket_encryption(Bucket=self.name))
        observed = {
            PUBLIC_ACCESS_BLOCK: (block or {}).get(PUBLIC_ACCESS_BLOCK),
            ENCRYPTION: (encryption or {}).get(ENCRYPTION),
        }
        return Found(self.placeholder(ctx), observed)

    def diff(self, ctx: Context, found: Found) -> list[Change]:
        desired = self.desired(ctx)
        changes = []
        block = found.observed.get(PUBLIC_ACCESS_BLOCK)
        if PUBLIC_ACCESS_BLOCK in desired and block != desired[PUBLIC_ACCESS_BLOCK]:
            changes.append(Change(PUBLIC_ACCESS_BLOCK, block, desired[PUBLIC_ACCESS_BLOCK]))
        if ENCRYPTION in desired:
            live, wanted = _algorithm(found.observed.get(ENCRYPTION)), _algorithm(desired[ENCRYPTION])
            if live != wanted:
                changes.append(Change(f"{ENCRYPTION}.SSEAlgorithm", live, wanted))
        return changes

    def create(self, ctx: Context) -> dict[str, Any]:
        s3 = ctx.clients("s3")
        params: dict[str, Any] = {"Bucket": self.name}
        # us-east-1 takes no LocationConstraint (AWS rejects one naming it); every other region needs one.
        if ctx.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}

        def create() -> None:
            try:
                s3.create_bucket(**params)
            except Exception as exc:
                if error_code(exc) == "BucketAlreadyExists":
                    raise AwsError(
                        f"bucket name {self.name} is taken by another account; choose another --name"
                    ) from None
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise

        # "A conflicting conditional operation is currently in progress against this resource":
        # S3 answers OperationAborted while a same-named bucket is still being deleted (S3 API
        # reference, Error codes; terraform-provider-aws retries CreateBucket on it).
        ctx.pacer_retry(
            create,
            retry_if=lambda exc: error_code(exc) == "OperationAborted",
            what=f"creating bucket {self.name} (a same-named bucket is being deleted)",
            timeout=120,
            base=1.0,
            cap=10.0,
        )
        self._configure(ctx, self.desired(ctx))
        self._settling(
            ctx,
            lambda: s3.put_bucket_tagging(
                Bucket=self.name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in ctx.tags.items()]}
            ),
            "tagging",
        )
        return self.placeholder(ctx)

    def _settling(self, ctx: Context, call: Callable[[], Any], what: str) -> Any:
        # A bucket just created can answer NoSuchBucket for a short while (S3 is eventually
        # consistent for bucket operations; terraform-provider-aws retries NoSuchBucket after create).
        return ctx.pacer_retry(
            call,
            retry_if=lambda exc: error_code(exc) == "NoSuchBucket",
            what=f"{what} bucket {self.name} (new buckets take a moment to appear)",
            timeout=60,
        )

    def _configure(self, ctx: Context, desired: dict[str, Any]) -> None:
        s3 = ctx.clients("s3")
        if PUBLIC_ACCESS_BLOCK in desired:
            self._settling(
                ctx,
                lambda: s3.put_public_access_block(
                    Bucket=self.name, PublicAccessBlockConfiguration=desired[PUBLIC_ACCESS_BLOCK]
                ),
                "blocking public access to",
            )
        if ENCRYPTION in desired:
            self._settling(
                ctx,
                lambda: s3.put_bucket_encryption(
                    Bucket=self.name, ServerSideEncryptionConfiguration=desired[ENCRYPTION]
                ),
                "encrypting",
            )

    def update(self, ctx: Context, found: Found, changes: list[Change]) -> dict[str, Any]:
        self._configure(ctx, self.desired(ctx))
        return found.record

    def delete(self, ctx: Context, record: dict[str, Any]) -> None:
        name = record["name"]
        try:
            _empty(ctx.clients("s3"), name)
        except Exception as exc:
            if error_code(exc) not in {"NoSuchBucket", "404"}:
                raise
            note_already_gone()
            return
        ignore_not_found(lambda: ctx.clients("s3").delete_bucket(Bucket=name))


def _empty(s3: Any, name: str) -> None:
    """Delete every object version and delete marker (a bucket must be empty to be deleted).

    Paging a listing while deleting what it lists can skip objects (the next page's marker points
    past keys that moved up; moto then answers an empty page): list the first page again until it
    comes back empty instead.
    """
    while True:
        page = s3.list_object_versions(Bucket=name, MaxKeys=1000)
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if not doomed:
            return
        for start in range(0, len(doomed), 1000):
            answer = s3.delete_objects(
                Bucket=name, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
            )
            # Quiet mode lists only failures; one would make this loop list it again forever.
            for failed in answer.get("Errors", [])[:1]:
                raise AwsError(f"cannot delete s3://{name}/{failed.get('Key')}: {failed.get('Message')}")


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
