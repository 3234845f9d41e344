"""SNS delivery to HTTP(S) and email subscriptions on the embedded AWS: one delivery path, replacing
moto's (which marks every subscription confirmed and posts an unsigned body once, without retries).

- Subscribe (http, https, email, email-json) leaves the subscription PendingConfirmation and sends the
  SubscriptionConfirmation; the answer's SubscriptionArn is "pending confirmation" unless
  ReturnSubscriptionArn is true, and listings show "PendingConfirmation" (Subscribe API reference).
  GET on its SubscribeURL, or ConfirmSubscription with its Token, confirms it.
- Only loopback endpoints (127.0.0.1, ::1, localhost) are delivered to locally: any other is refused
  at Subscribe with InvalidParameter. Email goes to the server log (confirmation link included).
- Confirmed subscriptions get Notification documents (signed, sns_messages.py) with SNS's headers.
  Retries follow SNS's default HTTP delivery policy (3 retries, 20 s apart, linear backoff), or the
  topic's/subscription's DeliveryPolicy, bounded; 2xx is delivered, 5xx / no answer retried (jittered),
  any other status fails the message.
- SubscribeURL, UnsubscribeURL and SigningCertURL are served by a small HTTP server of the embedded AWS
  on 127.0.0.1 (the `sns` URL in server.json), not by moto's endpoint.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import sns_messages
from .sns_delivery import Delivery, courier, retry_delays

log = logging.getLogger("asyncapi.local.sns")
DEFAULT_POLICY = {
    "minDelayTarget": 20,
    "maxDelayTarget": 20,
    "numRetries": 3,
    "numNoDelayRetries": 0,
    "numMinDelayRetries": 0,
    "numMaxDelayRetries": 0,
    "backoffFunction": "linear",
}
LOOPBACK_NAMES = ("localhost",)

front_url = ""  # set by the service when its HTTP server is up
_tokens: dict[str, Any] = {}  # confirmation token -> its subscription (an unsubscribed one is restored)
counters = {"emails": 0}


def is_loopback(endpoint: str) -> bool:
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _policy(subscription: Any) -> dict[str, Any]:
    for text in (subscription.attributes.get("DeliveryPolicy"), subscription.topic.delivery_policy):
        try:
            found = json.loads(text or "{}")
        except ValueError:
            continue
        retry = found.get("healthyRetryPolicy") or (found.get("http") or {}).get("defaultHealthyRetryPolicy")
        if retry:
            return {**DEFAULT_POLICY, **retry}
    return DEFAULT_POLICY


def _content_type(subscription: Any) -> str:
    """The delivery policy's requestPolicy.headerContentType, else SNS's text/plain."""
    for text in (subscription.attributes.get("DeliveryPolicy"), subscription.topic.delivery_policy):
        try:
            found = json.loads(text or "{}")
        except ValueError:
            continue
        request = found.get("requestPolicy") or (found.get("http") or {}).get("defaultRequestPolicy") or {}
        if request.get("headerContentType"):
            return str(request["headerContentType"])
    return "text/plain; charset=UTF-8"


def _urls(topic_arn: str, subscription_arn: str, token: str = "") -> dict[str, str]:
    # ARNs unescaped in the query, as SNS writes them (LocalStack's parity snapshot,
    # test_sns.py::TestSNSSubscriptionHttp::test_subscribe_external_http_endpoint).
    return {
        "subscribe": f"{front_url}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}",
        "unsubscribe": f"{front_url}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
        "cert": f"{front_url}/{sns_messages.signing_key().cert_name}",
    }


def _signature_version(topic: Any) -> str:
    # SetTopicAttributes stores it as moto stores every attribute: snake_case, on the topic.
    return str(getattr(topic, "signature_version", "1") or "1")


def _send(subscription: Any, document: dict[str, Any], with_subscription_header: bool) -> None:
    urls = _urls(subscription.topic.arn, subscription.arn)
    signed = sns_messages.ordered(
        sns_messages.sign(document, _signature_version(subscription.topic), urls["cert"])
    )
    headers = {
        "x-amz-sns-message-type": document["Type"],
        "x-amz-sns-message-id": document["MessageId"],
        "x-amz-sns-topic-arn": subscription.topic.arn,
        "Content-Type": _content_type(subscription),
        "User-Agent": "Amazon Simple Notification Service Agent",
        "Accept-Encoding": "gzip,deflate",
    }
    if with_subscription_header:
        headers["x-amz-sns-subscription-arn"] = subscription.arn
    raw = (
        document["Type"] == "Notification"
        and str(subscription.attributes.get("RawMessageDelivery")).lower() == "true"
    )
    if raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    body = (document["Message"] if raw else json.dumps(signed, indent=2)).encode("utf-8")
    courier().send(
        Delivery(time.monotonic(), subscription.endpoint, body, headers, retry_delays(_policy(subscription)))
    )


def request_confirmation(subscription: Any) -> None:
    token = secrets.token_hex(64)
    _tokens[token] = subscription
    url = _urls(subscription.topic.arn, subscription.arn, token)["subscribe"]
    if subscription.protocol in ("email", "email-json"):
        counters["emails"] += 1
        log.info(
            "SNS email to %s: confirm the subscription to %s: %s",
            subscription.endpoint,
            subscription.topic.arn,
            url,
        )
        return
    document = sns_messages.confirmation(
        "SubscriptionConfirmation", subscription.topic.arn, token, url, subscription.arn
    )
    _send(subscription, document, with_subscription_header=False)


def confirm(token: str, topic_arn: str | None = None) -> Any:
    """Confirm the subscription of this token; the subscription, or None for an unknown token."""
    from moto.sns.models import sns_backends

    subscription = _tokens.get(token)
    if subscription is None or (topic_arn and subscription.topic.arn != topic_arn):
        return None
    parts = subscription.arn.split(":")
    backend = sns_backends[parts[4]][parts[3]]
    if subscription.topic.arn not in backend.topics:
        return None  # its topic is gone
    backend.subscriptions.setdefault(subscription.arn, subscription)  # restored after an Unsubscribe
    subscription.confirmed = True
    subscription.attributes.update(PendingConfirmation=False, ConfirmationWasAuthenticated=True)
    return subscription


# --- moto patches ---------------------------------------------------------------------------------------
DELIVERED = ("http", "https", "email", "email-json")


def _subscribe(original: Any) -> Any:
    def subscribe(self: Any, topic_arn: str, endpoint: str, protocol: str) -> Any:
        from moto.sns.exceptions import SNSInvalidParameter

        if protocol in ("http", "https"):
            if not str(endpoint).lower().startswith(f"{protocol}://"):
                raise SNSInvalidParameter("Invalid parameter: Endpoint must match the specified protocol")
            if not is_loopback(endpoint):
                raise SNSInvalidParameter(
                    "Invalid parameter: Endpoint Reason: the embedded AWS delivers to loopback endpoints only"
                )
        if protocol in ("email", "email-json") and "@" not in str(endpoint):
            raise SNSInvalidParameter("Invalid parameter: Email address")
        existing = self._find_subscription(topic_arn, endpoint, protocol)
        subscription = original(self, topic_arn, endpoint, protocol)
        if protocol in DELIVERED and existing is None:
            subscription.attributes.update(PendingConfirmation=True, ConfirmationWasAuthenticated=False)
            request_confirmation(subscription)
        return subscription

    return subscribe


def _unsubscribe(original: Any) -> Any:
    def unsubscribe(self: Any, subscription_arn: str) -> None:
        subscription = self.subscriptions.get(subscription_arn)
        original(self, subscription_arn)
        if subscription is not None and subscription.protocol in ("http", "https") and subscription.confirmed:
            # The endpoint hears of it, with a SubscribeURL that restores the subscription (SNS developer
            # guide, "HTTP/HTTPS unsubscribe confirmation JSON format").
            token = secrets.token_hex(64)
            _tokens[token] = subscription
            url = _urls(subscription.topic.arn, subscription.arn, token)["subscribe"]
            document = sns_messages.confirmation(
                "UnsubscribeConfirmation", subscription.topic.arn, token, url, subscription.arn
            )
            _send(subscription, document, with_subscription_header=False)

    return unsubscribe


def _pending(subscription: Any) -> bool:
    return subscription.protocol in DELIVERED and not subscription.confirmed


def _subscribe_answer(original: Any) -> Any:
    def subscribe(self: Any) -> Any:
        from moto.core.responses import ActionResult

        answer = original(self)
        arn = answer.result["SubscriptionArn"]
        subscription = self.backend.subscriptions.get(arn)
        wants_arn = str(self._get_param("ReturnSubscriptionArn") or "").lower() == "true"
        if subscription is not None and _pending(subscription) and not wants_arn:
            return ActionResult({"SubscriptionArn": "pending confirmation"})
        return answer

    return subscribe


def _listing(original: Any) -> Any:
    def listing(self: Any) -> Any:
        from moto.core.responses import ActionResult

        answer = original(self)
        rows = [
            {
                "SubscriptionArn": "PendingConfirmation" if _pending(s) else s.arn,
                "Owner": s.owner,
                "Protocol": s.protocol,
                "Endpoint": s.endpoint,
                "TopicArn": s.topic.arn,
            }
            for s in answer.result["Subscriptions"]
        ]
        return ActionResult({**answer.result, "Subscriptions": rows})

    return listing


def _confirm_answer(_original: Any) -> Any:
    def confirm_subscription(self: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.sns.exceptions import SNSInvalidParameter

        topic_arn = self._get_param("TopicArn")
        if topic_arn not in self.backend.topics:  # AWS: a malformed or foreign topic is a bad parameter
            raise SNSInvalidParameter("Invalid parameter: Topic")
        subscription = confirm(self._get_param("Token") or "", topic_arn)
        if subscription is None:
            raise SNSInvalidParameter("Invalid parameter: Token")
        return ActionResult({"SubscriptionArn": subscription.arn})

    return confirm_subscription


def _publish(original: Any) -> Any:
    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        if self.protocol not in DELIVERED:
            return original(
                self,
                message,
                message_id,
                subject,
                message_attributes,
                group_id,  # type: ignore[no-any-return]
                deduplication_id,
                message_structure,
            )
        if not self.confirmed:
            return None  # SNS delivers to confirmed subscriptions only
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        if self.protocol in ("email", "email-json"):
            counters["emails"] += 1
            log.info("SNS email to %s: Subject: %s\n%s", self.endpoint, subject or "", message)
            return None
        urls = _urls(self.topic.arn, self.arn)
        document = sns_messages.notification(
            self.topic.arn, message_id, message, subject, urls["unsubscribe"], message_attributes
        )
        _send(self, document, with_subscription_header=True)
        return None

    return publish


# --- SubscribeURL / UnsubscribeURL / SigningCertURL ------------------------------------------------------
def _answer(action: str, result: str) -> bytes:
    return (
        f'<{action}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
        f"<{action}Result>{result}</{action}Result>"
        f"<ResponseMetadata><RequestId>{secrets.token_hex(16)}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()


def make_front_server(port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            key = sns_messages.signing_key()
            if parts.path == f"/{key.cert_name}":
                return self._reply(200, key.certificate_pem, "application/x-x509-ca-cert")
            if query.get("Action") == "ConfirmSubscription":
                subscription = confirm(query.get("Token", ""), query.get("TopicArn"))
                if subscription is None:
                    return self._reply(
                        400,
                        b"<ErrorResponse><Error><Code>InvalidParameter</Code>"
                        b"<Message>Invalid parameter: Token</Message></Error></ErrorResponse>",
                    )
                arn = f"<SubscriptionArn>{subscription.arn}</SubscriptionArn>"
                return self._reply(200, _answer("ConfirmSubscription", arn))
            if query.get("Action") == "Unsubscribe":
                from moto.sns.models import sns_backends

                arn = query.get("SubscriptionArn", "")
                parts_arn = arn.split(":")
                if len(parts_arn) >= 6:
                    sns_backends[parts_arn[4]][parts_arn[3]].unsubscribe(arn)
                return self._reply(200, _answer("Unsubscribe", ""))
            return self._reply(404, b"Not Found")

        def _reply(self, status: int, body: bytes, content_type: str = "text/xml") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            log.debug("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    return server
