"""Reserved concurrency the stack asks for, checked against the account before `up` creates anything.

Lambda keeps at least 100 of an account's concurrent executions unreserved: PutFunctionConcurrency that
would leave fewer answers InvalidParameterValueException ("Specified ReservedConcurrentExecutions for
function decreases account's UnreservedConcurrentExecution below its minimum value of [100]": Lambda API
reference, PutFunctionConcurrency; Lambda developer guide, "Configuring reserved concurrency": "Lambda
requires at least 100 units of unreserved concurrency"). New accounts may have a limit of 10, so any
reservation fails there. Learning that halfway through `up` leaves a half-made stack; GetAccountSettings
(AccountLimit.UnreservedConcurrentExecutions) tells it before the first change.
"""

from __future__ import annotations

from typing import Any

from .aws import error_code, error_message
from .engine import Context
from .errors import InputError
from .features import priorities
from .features.wiring import enabled, target
from .resources import or_none

MIN_UNRESERVED = 100
# What an endpoint without GetAccountSettings answers (moto: 404 "Not yet implemented"): no limit known.
_NOT_IMPLEMENTED = ("404", "501", "NotImplemented", "UnknownOperationException", "InvalidAction")


def reservations(ctx: Context) -> dict[str, int]:
    """Function name -> the reserved concurrency the stack's settings give it."""
    wanted: dict[str, int] = {}
    if ctx.settings.reserved_concurrency:
        wanted[ctx.names.processor] = int(ctx.settings.reserved_concurrency)
    if "priorities" in enabled(ctx):
        wanted[priorities.high_processor_name(target(ctx))] = priorities.HIGH_RESERVED_CONCURRENCY
    return wanted


def _account_limit(ctx: Context) -> dict[str, Any] | None:
    try:
        return dict(ctx.clients("lambda").get_account_settings()["AccountLimit"])
    except Exception as exc:
        if error_code(exc) in _NOT_IMPLEMENTED or "not yet implemented" in error_message(exc).lower():
            return None
        raise


def check_account_concurrency(ctx: Context) -> None:
    """InputError (one line, what to do) when the reservations would leave fewer than 100 unreserved."""
    wanted = reservations(ctx)
    if not wanted or ctx.local:  # the embedded AWS has no account limit
        return
    limit = _account_limit(ctx)
    if limit is None or "UnreservedConcurrentExecutions" not in limit:
        return
    lam = ctx.clients("lambda")
    # The stack's own functions' reservations are already out of the unreserved pool; they are replaced.
    held = 0
    for name in wanted:
        answer = or_none(lambda name=name: lam.get_function_concurrency(FunctionName=name)) or {}
        held += int(answer.get("ReservedConcurrentExecutions") or 0)
    unreserved = int(limit["UnreservedConcurrentExecutions"])
    left = unreserved + held - sum(wanted.values())
    if left >= MIN_UNRESERVED:
        return
    asked = ", ".join(f"{count} for {name}" for name, count in sorted(wanted.items()))
    raise InputError(
        f"reserved concurrency ({asked}) would leave {left} of this account's "
        f"{limit.get('ConcurrentExecutions', '?')} concurrent executions unreserved, and Lambda keeps at "
        f"least {MIN_UNRESERVED}: raise the Lambda 'Concurrent executions' quota (Service Quotas), or "
        "deploy without priorities and without processor.reserved_concurrency"
    )
