"""Cheaper per-request IAM enforcement for role sessions, with moto's decisions unchanged.

iam_policy's role enforcement builds moto's IAMRequest / S3IAMRequest (moto/iam/access_control.py) for
every request a Lambda worker signs, then check_signature() and check_action_permitted(). Three costs
there repeat work whose answer cannot change between requests:

* botocore's SigV4Auth.signature() derives the signing key with four HMACs from (secret key, date
  stamp, region, service) on every call; the key is a pure function of those four strings, so it is
  cached and a signature costs one HMAC.
* moto hands SigV4Auth.canonical_request() an AWSRequest whose headers are an email.message.Message
  (botocore's HTTPHeaders), copied again by headers_to_sign() and by AWSRequest.prepare() for the body;
  most of the signature's time. Here botocore's own canonical_request / canonical_headers /
  signed_headers / payload / string_to_sign run unchanged over a small request object whose header list
  answers exactly what Message answers (Message keeps (name, value) pairs as given and hands a str value
  back unchanged unless it holds surrogates: email._policybase.Compat32.header_store_parse and
  _sanitize_header). Anything outside that (a non-ASCII or non-str header, a body other than bytes or an
  empty form, no signed host header) goes through moto's AWSRequest as before.
* check_action_permitted() json-parses every policy document of the role per request; without
  condition values IAMPolicy(doc).is_action_permitted(action, resource) depends only on the document
  text, the action and the resource (moto/iam/policy_conditions.py holds no clock or state), so that
  result is cached per (document text, action, resource). The policies are still collected on every
  request, so a changed document is a new key and takes effect at once.

tests/test_local_iam_speedups.py compares every answer with moto's unpatched classes.
"""

from __future__ import annotations

import functools
import hmac
from hashlib import sha256
from typing import Any

from botocore.auth import SIGNED_HEADERS_BLACKLIST, S3SigV4Auth, SigV4Auth
from moto.iam.access_control import IAMPolicy, IAMRequest, PermissionResult, S3IAMRequest
from moto.iam.models import Policy


def _hmac(key: bytes, msg: str) -> bytes:
    # SigV4Auth._sign(key, msg) without hex.
    return hmac.new(key, msg.encode("utf-8"), sha256).digest()


@functools.lru_cache(maxsize=512)
def signing_key(secret_key: str, date_stamp: str, region: str, service: str) -> bytes:
    """SigV4Auth.signature()'s k_signing: the same four HMACs in the same order. A few entries per
    role session and day; bounded so stale sessions age out."""
    k_date = _hmac(f"AWS4{secret_key}".encode(), date_stamp)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "aws4_request")


class _Headers:
    """What SigV4Auth reads of an HTTPHeaders (email.message.Message), over the same (name, value)
    pairs in the same order; only ever given str values without surrogates, which Message returns
    unchanged. Lookups are case-insensitive as in Message.get_all / __contains__ / get."""

    __slots__ = ("_pairs", "_index")

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs
        self._index: dict[str, list[str]] | None = None

    def __iter__(self) -> Any:
        return (name for name, _ in self._pairs)

    def items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def get_all(self, name: str, failobj: Any = None) -> Any:
        # canonical_headers asks once per name: one pass builds every name's values, in order.
        if self._index is None:
            self._index = {}
            for key, value in self._pairs:
                self._index.setdefault(key.lower(), []).append(value)
        values = self._index.get(name.lower())
        return list(values) if values else failobj

    def __contains__(self, name: str) -> bool:
        return name.lower() in [key.lower() for key, _ in self._pairs]

    def __getitem__(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self._pairs:
            if key.lower() == name:
                return value
        return None


class _Request:
    """The attributes of an AWSRequest that SigV4Auth's canonical request, payload, string to sign and
    signature read. body is what AWSRequest.body would give: the bytes, or b"" for none."""

    __slots__ = ("method", "url", "params", "headers", "context", "body")

    def __init__(self, method: str, url: str, headers: _Headers, body: bytes, timestamp: Any) -> None:
        self.method = method
        self.url = url
        self.params: dict[str, str] = {}  # moto passes none: the query string is read from the url
        self.headers = headers
        self.context = {"timestamp": timestamp}
        self.body = body


class _FastAuth:
    """Mixed into SigV4Auth / S3SigV4Auth: neither overrides headers_to_sign or signature."""

    def headers_to_sign(self, request: Any) -> Any:
        if not isinstance(request, _Request):
            return super().headers_to_sign(request)  # type: ignore[misc]
        # botocore's loop, into a pair list instead of HTTPHeaders (whose __setitem__ appends). The host
        # header is known to be present (see _light_request), so botocore's fallback never applies.
        pairs = []
        for name, value in request.headers.items():
            lname = name.lower()
            if lname not in SIGNED_HEADERS_BLACKLIST:
                pairs.append((lname, value))
        return _Headers(pairs)

    def signature(self, string_to_sign: str, request: Any) -> str:
        secret = self.credentials.secret_key  # type: ignore[attr-defined]
        date = request.context["timestamp"][0:8]
        region, service = self._region_name, self._service_name  # type: ignore[attr-defined]
        if not all(type(part) is str for part in (secret, date, region, service)):
            return super().signature(string_to_sign, request)  # type: ignore[misc,no-any-return]
        key = signing_key(secret, date, region, service)
        return self._sign(key, string_to_sign, hex=True)  # type: ignore[attr-defined,no-any-return]


class _FastSigV4Auth(_FastAuth, SigV4Auth):
    pass


class _FastS3SigV4Auth(_FastAuth, S3SigV4Auth):
    pass


@functools.lru_cache(maxsize=4096)
def _document_result(document: str, action: str, resource: str) -> PermissionResult:
    # IAMPolicy(str) json-parses the text itself; an exception (a malformed document) is not cached and
    # is raised again on every request, as before.
    return IAMPolicy(document).is_action_permitted(action, resource)


def policy_result(policy: Any, action: str, resource: str) -> PermissionResult:
    """IAMPolicy(policy).is_action_permitted(action, resource), cached per document text."""
    # The document IAMPolicy.__init__ would parse, found the same way (same exceptions).
    if isinstance(policy, Policy):
        document = next(version for version in policy.versions if version.is_default).document
    elif isinstance(policy, str):
        document = policy
    else:
        document = policy["policy_document"]
    if type(document) is str and type(action) is str and type(resource) is str:
        return _document_result(document, action, resource)
    return IAMPolicy(policy).is_action_permitted(action, resource)


class _FastRequest:
    """Mixed into IAMRequest / S3IAMRequest: the same checks, the same errors, less repeated work."""

    def _light_request(self) -> _Request | None:
        # IAMRequestBase._create_aws_request's inputs; None when AWSRequest could answer differently.
        this: Any = self
        signed = this._get_string_between("SignedHeaders=", ",", this._headers["Authorization"]).split(";")
        headers = this._create_headers_for_aws_request(signed, this._headers)
        pairs = list(headers.items())
        for name, value in pairs:
            if type(name) is not str or type(value) is not str or not (name.isascii() and value.isascii()):
                return None
        if not any(name.lower() == "host" for name, _ in pairs):
            return None
        data = this._body or this._data
        if type(data) is bytes:
            body = data  # AWSRequest.body: the bytes (b"" -> None, hashed as empty all the same)
        elif data is None or (type(data) is dict and not data):
            body = b""  # AWSRequest.body of None / an empty form: nothing, the empty payload hash
        else:
            return None
        return _Request(this._method, this._path, _Headers(pairs), body, headers["X-Amz-Date"])

    def _calculate_signature(self) -> str:
        this: Any = self
        request = self._light_request()
        if request is None:
            return super()._calculate_signature()  # type: ignore[misc,no-any-return]
        # IAMRequestBase._calculate_signature over the light request.
        auth = this._create_auth(this._access_key.create_credentials())
        canonical_request = auth.canonical_request(request)
        string_to_sign = auth.string_to_sign(request, canonical_request)
        return auth.signature(string_to_sign, request)  # type: ignore[no-any-return]

    def check_action_permitted(self, resource: str) -> None:
        # IAMRequestBase.check_action_permitted with the per-policy evaluation cached; the order of
        # decisions (an explicit Deny raises at once) and the assume-role trust check are moto's.
        this: Any = self
        if this._action == "sts:GetCallerIdentity":  # always allowed, even with an explicit Deny
            return
        policies = this._access_key.collect_policies()
        permitted = False
        for policy in policies:
            permission_result = policy_result(policy, this._action, resource)
            if permission_result == PermissionResult.DENIED:
                this._raise_access_denied()
            elif permission_result == PermissionResult.PERMITTED:
                permitted = True
        if this._is_assuming_role_operation(resource):
            permitted = permitted and this._check_role_trust_relationship(resource)
        if not permitted:
            this._raise_access_denied()


class FastIAMRequest(_FastRequest, IAMRequest):
    def _create_auth(self, credentials: Any) -> SigV4Auth:
        return _FastSigV4Auth(credentials, self._service, self._region)


class FastS3IAMRequest(_FastRequest, S3IAMRequest):
    def _create_auth(self, credentials: Any) -> S3SigV4Auth:
        return _FastS3SigV4Auth(credentials, self._service, self._region)


_FAST: dict[type, type] = {IAMRequest: FastIAMRequest, S3IAMRequest: FastS3IAMRequest}


def fast_request_class(iam_request_cls: type) -> type:
    """The faster equivalent of moto's request class; any other class unchanged."""
    return _FAST.get(iam_request_cls, iam_request_cls)
