"""moto_request_ids: request ids drawn the short way are the ids moto's own way draws; the request id
put into XML bodies as moto puts it."""

from __future__ import annotations

import random
from typing import Any

import pytest
from moto.moto_api._internal.moto_random import MotoRandom

from asyncapi_cli.local import moto_patches


@pytest.fixture(autouse=True)
def applied() -> None:
    moto_patches.apply()


@pytest.mark.parametrize("seed", [0, 1, 42, 2**40 + 7])
def test_seeded_draws_are_motos_own(seed: int) -> None:
    """The same seed gives the same strings, draw after draw (moto's /moto-api/seed relies on it), for
    every pool (letters and digits: 62, a 6-bit draw redrawn above 61; letters only: 52)."""
    ours, theirs = MotoRandom(seed), MotoRandom(seed)
    moto_way = moto_patches.originals["MotoRandom.get_random_string"]
    assert MotoRandom.get_random_string is not moto_way  # the patch is in place
    for length in (52, 20, 1, 0, 200):
        for digits in (True, False):
            for lower in (False, True):
                assert ours.get_random_string(length, digits, lower) == moto_way(
                    theirs, length, digits, lower
                )
    assert ours.random() == theirs.random()  # the generators are still in step
    assert ours.get_random_string() == moto_way(theirs)


def test_a_subclass_drawing_otherwise_keeps_motos_way() -> None:
    without_getrandbits = random.Random._randbelow_without_getrandbits  # type: ignore[attr-defined]

    class Other(MotoRandom):
        _randbelow = without_getrandbits  # draws through random(), not getrandbits

    assert Other(1).get_random_string(5) == moto_patches.originals["MotoRandom.get_random_string"](
        Other(1), 5
    )


BODIES: list[Any] = [
    '{"TableName": "t"}',  # JSON: no RequestId
    "<R><ResponseMetadata><RequestId>old</RequestId></ResponseMetadata></R>",
    "<A><RequestId></RequestId><B/><RequestId>x</RequestId></A>",  # greedy, as moto's pattern is
    "<RequestId>",  # opened, never closed
    b"<RequestId>bytes</RequestId>",  # bytes: moto's re.sub raised and it kept the body
    None,
    12,
    "",
]


@pytest.mark.parametrize("body", BODIES)
def test_enriched_answers_are_motos(body: Any) -> None:
    import moto.moto_api._internal as internal
    from moto.core.responses import BaseResponse

    moto_way = moto_patches.originals["BaseResponse._enrich_response"]
    for status in ({"status": 200}, {}):
        internal.mock_random.seed(5)
        ours = BaseResponse._enrich_response(dict(status), body)
        internal.mock_random.seed(5)
        theirs = moto_way(dict(status), body)
        assert ours == theirs
        if isinstance(body, str) and "</RequestId>" in body:
            assert ours[0]["x-amzn-requestid"] in ours[1]  # the id went into the body
