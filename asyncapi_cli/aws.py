"""The one module where boto3 sessions and clients are made. Everything else receives clients."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import AwsError, InputError
from .state import Target

SERVICES = ("sqs", "dynamodb", "s3", "iam", "lambda", "logs", "apigateway", "sts")
READ_PREFIXES = ("Get", "List", "Describe", "Head")


def is_mutating(operation_name: str) -> bool:
    return not operation_name.startswith(READ_PREFIXES)


@dataclass
class CallCounter:
    """Counts AWS calls through botocore's event system (one per operation, retries apart)."""

    calls: int = 0
    mutating: int = 0
    retries: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def before_call(self, model: Any, **_: Any) -> None:
        with self._lock:
            self.calls += 1
            key = f"{model.service_model.service_name}.{model.name}"
            self.by_operation[key] = self.by_operation.get(key, 0) + 1
            if is_mutating(model.name):
                self.mutating += 1

    def after_call(self, parsed: Any = None, **_: Any) -> None:
        attempts = ((parsed or {}).get("ResponseMetadata") or {}).get("RetryAttempts", 0)
        if attempts:
            with self._lock:
                self.retries += attempts

    def summary(self) -> dict[str, int]:
        return {"calls": self.calls, "mutating": self.mutating, "retries": self.retries}


# Hooks that tests (and the fault-injection suite) use to attach handlers to every client made.
ClientHook = Callable[[Any], None]

_loader: Any = None
_loader_lock = threading.Lock()


def shared_loader() -> Any:
    """One botocore data loader for the process. Parsing a service model (lambda, apigateway: about a
    megabyte of JSON each) is the largest cost of making a client, and each botocore session has its own
    loader cache: without this, every session (one per stack opened, and names.py's partitions) parses
    the same files again. The loaded data is read-only, as within one session already."""
    global _loader
    with _loader_lock:
        if _loader is None:
            import botocore.loaders

            # AWS_DATA_PATH first, as botocore's own sessions read it (create_loader).
            extra = os.environ.get("AWS_DATA_PATH", "")
            paths = [os.path.expanduser(os.path.expandvars(p)) for p in extra.split(os.pathsep) if p]
            _loader = botocore.loaders.Loader(extra_search_paths=_SearchPaths(paths))
        return _loader


class _SearchPaths(list[str]):
    """The shared loader's search paths, each kept once. Every boto3 Session appends boto3's data
    directory to its loader's paths; with one loader for the process the list grew by a path a session
    (a test worker opens hundreds), and each model lookup stats every entry."""

    def append(self, path: str) -> None:
        if path not in self:
            super().append(path)


def botocore_session() -> Any:
    """A new botocore session that reads models through the shared loader."""
    import botocore.session

    session = botocore.session.Session()
    session.register_component("data_loader", shared_loader())  # public API: botocore stays stock
    return session


class AwsClients:
    """Lazily made, shared (thread-safe) boto3 clients for one target."""

    def __init__(
        self,
        target: Target,
        *,
        counter: CallCounter | None = None,
        hooks: list[ClientHook] | None = None,
        max_attempts: int = 10,
        credentials: dict[str, str] | None = None,
    ) -> None:
        import boto3
        import botocore.config

        self.target = target
        self.counter = counter or CallCounter()
        self._hooks = list(hooks or [])
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        try:
            self._session = boto3.session.Session(
                profile_name=target.profile,
                region_name=target.region,
                botocore_session=botocore_session(),
                **(credentials or {}),
            )
            if target.profile and target.profile not in self._session.available_profiles:
                # Given a botocore session, boto3 defers this check to the first client.
                import botocore.exceptions

                raise botocore.exceptions.ProfileNotFound(profile=target.profile)
        except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
            raise InputError(f"cannot use AWS profile {target.profile!r}: {exc}") from None
        self._config = botocore.config.Config(
            region_name=target.region,
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=5,
            read_timeout=70,
            user_agent_extra="asyncapi",
            # Threads run independent resources concurrently; give each its connection.
            max_pool_connections=20,
        )

    def __call__(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self._session.client(
                    service, endpoint_url=self.target.endpoint_url, config=self._config
                )
                client.meta.events.register("before-call.*.*", self.counter.before_call)
                client.meta.events.register("after-call.*.*", self.counter.after_call)
                for hook in self._hooks:
                    hook(client)
                self._clients[service] = client
            return client

    def has_credentials(self) -> bool:
        return self._session.get_credentials() is not None

    def known_regions(self) -> frozenset[str]:
        regions: set[str] = set()
        for partition in self._session.get_available_partitions():
            regions.update(self._session.get_available_regions("sqs", partition_name=partition))
        return frozenset(regions)

    def account_id(self) -> str:
        """Who we are; also the preflight that turns missing credentials or a dead endpoint into one line."""
        import botocore.config
        import botocore.exceptions

        if not self.has_credentials():
            raise AwsError(
                "no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                "or try it locally with --local)"
            )
        with self._lock:  # a botocore session is not thread-safe: clients are made one at a time
            probe = self._session.client(
                "sts",
                endpoint_url=self.target.endpoint_url,
                config=botocore.config.Config(
                    region_name=self.target.region,
                    retries={"mode": "standard", "max_attempts": 2},
                    connect_timeout=3,
                    read_timeout=10,
                ),
            )
        try:
            return str(probe.get_caller_identity()["Account"])
        except botocore.exceptions.EndpointConnectionError:
            where = self.target.endpoint_url or f"AWS in {self.target.region}"
            raise AwsError(f"cannot reach {where}: connection failed") from None
        except botocore.exceptions.ClientError as exc:
            raise AwsError(f"AWS rejected the credentials: {describe_error(exc)}") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise AwsError(f"cannot talk to {self.target.endpoint_url or 'AWS'}: {exc}") from None
        except ValueError as exc:  # e.g. an endpoint URL botocore cannot parse
            raise InputError(f"invalid endpoint {self.target.endpoint_url!r}: {exc}") from None


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code", ""))
    return ""


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Message", ""))
    return str(exc)


def describe_error(exc: BaseException) -> str:
    code = error_code(exc)
    message = error_message(exc)
    return f"{code}: {message}" if code else message


NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "NotFoundException",
        "NoSuchEntity",
        "NoSuchBucket",
        "NoSuchKey",
        "404",
        "NotFound",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "ResourceNotFound",  # CloudWatch's (GetDashboard, DeleteDashboards, DeleteAlarms)
    }
)


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in NOT_FOUND_CODES
