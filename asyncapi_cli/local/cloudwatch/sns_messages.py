"""The documents SNS posts to HTTP(S) endpoints, signed as SNS signs them.

Formats from the SNS developer guide, "Parsing message formats" (HTTP/HTTPS SubscriptionConfirmation,
Notification and UnsubscribeConfirmation JSON, and the x-amz-sns-* headers), signatures from "Verifying
the signatures of Amazon SNS messages": the string to sign is `name\\nvalue\\n` for Message, MessageId,
Subject (if any), Timestamp, TopicArn, Type (notifications) or Message, MessageId, SubscribeURL,
Timestamp, Token, TopicArn, Type (confirmations), signed with RSA PKCS#1 v1.5 over SHA1
(SignatureVersion 1, the default) or SHA256 (2, the topic attribute SignatureVersion). The key and its
self-signed certificate are made by the embedded AWS when it first signs, and served at SigningCertURL.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
CONFIRMATION_TEXT = (
    "You have chosen to subscribe to the topic {topic}.\n"
    "To confirm the subscription, visit the SubscribeURL included in this message."
)
UNSUBSCRIBE_TEXT = (
    "You have chosen to deactivate subscription {subscription}.\n"
    "To cancel this operation and restore the subscription, visit the SubscribeURL included in this message."
)


@dataclass(frozen=True)
class SigningKey:
    key: Any
    certificate_pem: bytes

    @property
    def cert_name(self) -> str:
        digest = hashlib.sha256(self.certificate_pem).hexdigest()[:32]
        return f"SimpleNotificationService-{digest}.pem"


@functools.lru_cache(maxsize=1)
def signing_key() -> SigningKey:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com (asyncapi embedded AWS)")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return SigningKey(key, certificate.public_bytes(serialization.Encoding.PEM))


def string_to_sign(document: dict[str, Any]) -> bytes:
    fields = NOTIFICATION_FIELDS if document["Type"] == "Notification" else CONFIRMATION_FIELDS
    return "".join(
        f"{name}\n{document[name]}\n" for name in fields if document.get(name) is not None
    ).encode()


def sign(document: dict[str, Any], version: str, cert_url: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303 (SNS version 1 is SHA1)
    signature = signing_key().key.sign(string_to_sign(document), padding.PKCS1v15(), algorithm)
    return {
        **document,
        "SignatureVersion": "2" if version == "2" else "1",
        "Signature": base64.b64encode(signature).decode("ascii"),
        "SigningCertURL": cert_url,
    }


def verify(document: dict[str, Any], certificate_pem: bytes) -> bool:
    """What a receiver does with a delivered document (tests use it)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    algorithm = hashes.SHA256() if document.get("SignatureVersion") == "2" else hashes.SHA1()  # noqa: S303
    try:
        public_key.verify(  # type: ignore[union-attr,call-arg]
            base64.b64decode(document["Signature"]), string_to_sign(document), padding.PKCS1v15(), algorithm
        )
    except InvalidSignature:
        return False
    return True


def timestamp() -> str:
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def confirmation(
    kind: str, topic_arn: str, token: str, subscribe_url: str, subscription_arn: str
) -> dict[str, Any]:
    text = CONFIRMATION_TEXT if kind == "SubscriptionConfirmation" else UNSUBSCRIBE_TEXT
    return {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "Token": token,
        "TopicArn": topic_arn,
        "Message": text.format(topic=topic_arn, subscription=subscription_arn),
        "SubscribeURL": subscribe_url,
        "Timestamp": timestamp(),
    }


def notification(
    topic_arn: str,
    message_id: str,
    message: str,
    subject: str | None,
    unsubscribe_url: str,
    attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    document: dict[str, Any] = {"Type": "Notification", "MessageId": message_id, "TopicArn": topic_arn}
    if subject is not None:
        document["Subject"] = subject
    document.update(Message=message, Timestamp=timestamp(), UnsubscribeURL=unsubscribe_url)
    if attributes:
        document["MessageAttributes"] = {
            name: {"Type": value.get("Type") or value.get("DataType"), "Value": value.get("Value")}
            for name, value in attributes.items()
        }
    return document


def ordered(document: dict[str, Any]) -> dict[str, Any]:
    """The members in the order SNS writes them (the signature fields before the URLs)."""
    order = (
        "Type", "MessageId", "Token", "TopicArn", "Subject", "Message", "SubscribeURL", "Timestamp",
        "SignatureVersion", "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes",
    )  # fmt: skip
    return {name: document[name] for name in order if name in document}
