"""Verifying a webhook delivery on the receiver's side: the README's snippet, as tests run it.

Standard library only, so that a receiver can paste it. A delivery is accepted when its signature over
"<timestamp>.<deliveryId>.<body>" matches, its timestamp is within the tolerance of now, and its delivery
id has not been seen. A captured delivery replayed as is: seen id. Replayed under a new id: the signature
no longer matches. Replayed with a fresh timestamp: the signature no longer matches. Replayed later
than the tolerance, once the id has been forgotten: too old.
"""

import hashlib
import hmac
import time


def verify_delivery(secret, headers, body, *, seen, now=None, tolerance=300):
    """True when a delivery is authentic, fresh and new. headers: a dict with lower-case names;
    body: the exact bytes received; seen: the delivery ids already processed (a set, or a shared store
    with `in` and `add`), kept for longer than `tolerance` seconds."""
    timestamp = headers.get("x-asyncapi-timestamp", "")
    signature = headers.get("x-asyncapi-signature", "")
    delivery_id = headers.get("x-asyncapi-delivery", "")
    if not timestamp.isdigit() or not delivery_id:
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False  # too old (or from the future): a replay
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return False  # not from the stack, or altered: the body, the id or the timestamp
    if delivery_id in seen:
        return False  # already processed (a retry, or a replay): answer 2xx again, do nothing
    seen.add(delivery_id)
    return True
