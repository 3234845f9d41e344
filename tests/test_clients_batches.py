"""test-job --batch's client against a scripted API on 127.0.0.1: POST /batches refused when the feature is
off, GET /batches/{batchId} followed through "not yet" and throttled answers to the batch's final document."""

from __future__ import annotations

import pytest

from asyncapi_cli.clients.batches import follow_batch, submit_batch
from asyncapi_cli.clients.jobs import SubmitRefused
from asyncapi_cli.errors import EXIT_AWS, AsyncApiError, JobTimeoutError

from .test_clients_jobs import FakeApi, api, recording_pacer  # noqa: F401 (the api fixture)

RUNNING = {"batchId": "b1", "status": "processing", "total": 2, "completed": 1, "failed": 0}
PARTIAL = {**RUNNING, "status": "partial", "failed": 1, "jobs": [{"jobId": "j1"}, {"jobId": "j2"}]}


def test_a_batch_is_followed_through_unknown_and_throttled_answers(
    api: tuple[str, FakeApi],  # noqa: F811 (the fixture imported above)
) -> None:
    """404: no processor has written the batch yet; 429: API Gateway's throttle ("Throttle requests to
    your REST APIs": 429 Too Many Requests), asked again no sooner than Retry-After."""
    url, state = api
    state.script = [
        (404, {"status": "unknown"}, {}),
        (429, {"message": "Too Many Requests"}, {"Retry-After": "2"}),
        (200, RUNNING, {}),
        (200, PARTIAL, {}),
    ]
    pacer, sleeps = recording_pacer()
    changes: list[dict] = []
    final = follow_batch(f"{url}/batches/b1", "b1", pacer.clock() + 60, pacer, changes.append)
    assert [change["status"] for change in changes] == ["queued", "processing", "partial"]
    assert final == PARTIAL and state.polls == 4
    assert len(sleeps) == 3 and 2 <= sleeps[1] <= 20


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        ((200, RUNNING, {}), JobTimeoutError, "batch b1 still processing after the timeout"),
        ((500, {"message": "Internal server error"}, {}), AsyncApiError, "batch status failed: HTTP 500"),
    ],
    ids=["never-final", "server-error"],
)
def test_a_batch_that_does_not_end_is_reported_by_its_id(
    api: tuple[str, FakeApi],  # noqa: F811 (the fixture imported above)
    answer: tuple[int, dict, dict],
    error: type[Exception],
    message: str,
) -> None:
    url, state = api
    state.script = [answer]
    pacer, _ = recording_pacer()
    with pytest.raises(error, match=message):
        follow_batch(f"{url}/batches/b1", "b1", pacer.clock() + 5, pacer, lambda _: None)


def test_post_batches_refused_says_the_feature_may_be_off(
    api: tuple[str, FakeApi],  # noqa: F811 (the fixture imported above)
) -> None:
    """Without the feature the stage has no /batches: API Gateway answers 403 (its missing-route answer,
    MissingAuthenticationTokenException) or 404."""
    url, state = api
    state.accept = 0  # every POST answered 403
    pacer, _ = recording_pacer()
    with pytest.raises(AsyncApiError, match="is the batches feature on"):
        submit_batch(url.removesuffix("/submit"), [{"n": 1}], pacer)


def test_post_batches_refused_by_the_api_exits_as_a_refused_job(
    api: tuple[str, FakeApi],  # noqa: F811 (the fixture imported above)
) -> None:
    """A 500 from POST /batches is the API refusing the jobs, as a refused /submit is: exit 3 (README's
    exit codes), not 2 (bad input)."""
    url, state = api
    state.script = []
    state.accept = 0
    state.refused_status = 500
    pacer, _ = recording_pacer()
    with pytest.raises(SubmitRefused, match="batch submit failed: HTTP 500") as raised:
        submit_batch(url.removesuffix("/submit"), [{"n": 1}], pacer)
    assert raised.value.exit_code == EXIT_AWS == 3
