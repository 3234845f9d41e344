"""moto's request ids at less CPU: the same draws, the same ids.

Every answer moto gives gets an `x-amzn-RequestId` of 52 letters and digits
(moto/utilities/aws_headers.py gen_amzn_requestid_long), drawn by `MotoRandom.get_random_string` as
`self.choice(pool)` per character: two Python calls (`choice`, `_randbelow`) around each
`getrandbits`. Then `BaseResponse._enrich_response` runs a look-behind regex over the whole body to put
the id into an XML `<RequestId>`, JSON bodies included. Together ~3% of the embedded AWS's CPU.

- `get_random_string` here makes the very same `getrandbits(k)` calls in the same order as
  `Random.choice` -> `_randbelow_with_getrandbits` (CPython's random.py: k = len(pool).bit_length(),
  drawn again while r >= len(pool)), so a seeded MotoRandom (moto's `/moto-api/seed`) gives the same
  strings. Only for a class whose choice and _randbelow are CPython's own; otherwise moto's.
- `_enrich_response` runs the regex only on a str body holding "<RequestId>": without it the pattern
  cannot match (a str body comes back as it was) and a non-str body made re.sub raise, which moto
  ignores. Everything else (the status made a str, the id drawn and set in the headers) is moto's.
tests/test_local_moto_request_ids.py compares both with moto's.
"""

from __future__ import annotations

import random
import re
import string
from typing import Any

from .moto_patches import originals

_REQUEST_ID_IN_XML = re.compile(r"(?<=<RequestId>).*(?=<\/RequestId>)")  # moto's pattern


def _draws_as_cpython(cls: type) -> bool:
    return (
        getattr(cls, "choice", None) is random.Random.choice
        and getattr(cls, "_randbelow", None) is random.Random._randbelow_with_getrandbits  # type: ignore[attr-defined]
    )


def apply() -> None:
    """Once, from moto_patches.apply (under its lock); moto's own are kept in its `originals`."""
    import moto.core.responses as core_responses
    from moto.core.responses import BaseResponse
    from moto.moto_api._internal.moto_random import MotoRandom

    if "MotoRandom.get_random_string" in originals:
        return
    drawn_by_choice = originals["MotoRandom.get_random_string"] = MotoRandom.get_random_string
    originals["BaseResponse._enrich_response"] = BaseResponse._enrich_response

    def get_random_string(
        self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False
    ) -> str:
        if not _draws_as_cpython(type(self)) or type(length) is not int:
            return drawn_by_choice(self, length, include_digits, lower_case)  # type: ignore[no-any-return]
        pool = string.ascii_letters + (string.digits if include_digits else "")
        size = len(pool)
        bits = size.bit_length()
        getrandbits = self.getrandbits
        chars = []
        for _ in range(length):
            r = getrandbits(bits)
            while r >= size:
                r = getrandbits(bits)
            chars.append(pool[r])
        text = "".join(chars)
        return text.lower() if lower_case else text

    def enrich_response(headers: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        if "status" in headers:
            headers["status"] = str(headers["status"])
        request_id = core_responses.gen_amzn_requestid_long(headers)  # the name moto's calls
        if isinstance(body, str) and "<RequestId>" in body:
            try:
                body = _REQUEST_ID_IN_XML.sub(request_id, body)
            except Exception:  # noqa: BLE001 - moto's own: a body it cannot rewrite is left as it is
                pass
        return headers, body

    MotoRandom.get_random_string = get_random_string  # type: ignore[method-assign]
    BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign,assignment]
