"""CORS preflight methods converge whatever an empty mapping template reads back as.

The preflight's integration response has an empty template ({"application/json": ""}). AWS reads it
back as null, and so does LocalStack (its parity snapshot, recorded against AWS:
tests/aws/services/apigateway/test_apigateway_api.snapshot.json,
TestApigatewayIntegration::test_put_integration_response_templates, "put-integration-response-template-
empty": {"responseTemplates": {"application/json": null}}), and so does moto; the definition spells it
"". A hook on the clients rewrites moto's answers into each form an implementation may answer.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from asyncapi_cli import ops
from asyncapi_cli.engine import SilentReporter

from .conftest import stack_options

NAME = "cors-readback"
ORIGINS = {
    "one origin": ("https://app.example.com",),
    "two origins": ("https://a.example", "https://b.example"),
}


class EmptyTemplateReadsBackAs:
    """Answers GetMethod with the preflight's empty template as `form`: "null" (AWS, moto), "empty"
    (the "" that was sent) or "omitted" (the content type left out)."""

    def __init__(self, form: str) -> None:
        self.form = form
        self.rewritten = 0

    def __call__(self, client: Any) -> None:
        client.meta.events.register("after-call.api-gateway.GetMethod", self._method)

    def _method(self, parsed: dict[str, Any], **_: Any) -> None:
        integration = parsed.get("methodIntegration") or {}
        for response in (integration.get("integrationResponses") or {}).values():
            templates = response.get("responseTemplates") or {}
            for ctype, template in list(templates.items()):
                if template in ("", None):
                    self.rewritten += 1
                    if self.form == "omitted":
                        del templates[ctype]
                    else:
                        templates[ctype] = None if self.form == "null" else ""


@pytest.mark.parametrize("form", ["null", "empty", "omitted"])
def test_a_second_up_changes_nothing_however_an_empty_template_reads_back(
    mocked_aws: None, form: str
) -> None:
    # One origin: a static header and the empty template (several origins echo the Origin from a template).
    read_back = EmptyTemplateReadsBackAs(form)
    options = stack_options(NAME, overrides={"cors_origins": ("https://app.example.com",)}, hooks=[read_back])
    ops.up(ops.open_stack(options, creating=True), SilentReporter())

    again = ops.up(ops.open_stack(options, creating=False), SilentReporter())
    assert read_back.rewritten > 0  # the preflight's empty template was read back in that form
    assert {o.key: o.action for o in again if o.action != "exists"} == {}
    # `plan` (what `status --exit-code` reads) proposes nothing either.
    proposed = ops.plan(ops.open_stack(options, creating=False))
    assert {o.key: o.action for o in proposed if o.action != "exists"} == {}


def test_a_changed_template_is_still_a_change(mocked_aws: None) -> None:
    """The normalization hides only empty templates: a preflight whose template differs is updated."""
    options = stack_options(NAME, overrides={"cors_origins": ("https://app.example.com",)})
    stack = ops.open_stack(options, creating=True)
    ops.up(stack, SilentReporter())
    api_id = stack.state.resources["rest_api"]["id"]
    apigw = boto3.client("apigateway")
    (submit,) = [r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/submit"]
    apigw.put_integration_response(
        restApiId=api_id,
        resourceId=submit["id"],
        httpMethod="OPTIONS",
        statusCode="200",
        responseTemplates={"application/json": "{}"},
    )
    again = ops.up(ops.open_stack(options, creating=False), SilentReporter())
    assert {o.key: o.action for o in again if o.action != "exists"} == {"routes": "updated"}
