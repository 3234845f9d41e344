"""The thin command layer: parse options, call the library, render. boto3 is imported lazily."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .errors import EXIT_AWS, EXIT_INTERRUPTED, AsyncApiError

EXIT_BUG = 70
EXIT_BROKEN_PIPE = 141


def _fail(ctx: click.Context, message: str, code: int) -> None:
    # Always one line, even when an AWS message spans several.
    one_line = " ".join(message.split())
    click.echo(f"asyncapi: error: {one_line}", err=True)
    ctx.exit(code)


# What is true after Ctrl-C, per command (a command may say more through ctx.meta["asyncapi.interrupt"]).
INTERRUPTED = {
    "up": "interrupted; everything created so far is recorded: run 'asyncapi up' again to resume",
    "down": "interrupted; everything deleted so far is recorded: run 'asyncapi down' again to finish",
    "test-job": "interrupted; jobs already submitted keep running on the stack ('asyncapi jobs' lists them)",
    "demo": "interrupted; the demo took its stack down where it could ('asyncapi local stop' ends the rest)",
}
READ_ONLY_INTERRUPTED = "interrupted; nothing was changed"


def _interrupt_message(ctx: click.Context) -> str:
    command = ctx.invoked_subcommand or ""
    message = INTERRUPTED.get(command, READ_ONLY_INTERRUPTED)
    # ctx.meta is shared by nested contexts: a subcommand (dlq redrive, logs) may have been more exact.
    return str(ctx.meta.get("asyncapi.interrupt", message))


def _silence_stdout() -> None:
    """After EPIPE (`asyncapi ... | head`): point stdout at /dev/null so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class Group(click.Group):
    """Turns every expected failure into one line on stderr and a documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug")) or os.environ.get("ASYNCAPI_DEBUG") == "1"
        try:
            try:
                return super().invoke(ctx)
            finally:
                # Flush here, not at interpreter exit, so a closed pipe is handled below.
                sys.stdout.flush()
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (head, less): stop quietly, as CLIs do; 141 = 128 + SIGPIPE.
            _silence_stdout()
            ctx.exit(EXIT_BROKEN_PIPE)
        except AsyncApiError as exc:
            if debug:
                raise
            _fail(ctx, str(exc), exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, _interrupt_message(ctx), EXIT_INTERRUPTED)
        except Exception as exc:
            if debug:
                raise
            message, code = _describe_unexpected(exc)
            _fail(ctx, message, code)


def _describe_unexpected(exc: Exception) -> tuple[str, int]:
    module = type(exc).__module__
    if module.startswith(("botocore", "boto3", "urllib3")):
        from .aws import describe_error

        return f"AWS call failed: {describe_error(exc) or exc}", EXIT_AWS
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", EXIT_BUG


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks (for bug reports).")
@click.version_option(package_name="asyncapi")
def main(debug: bool) -> None:
    """Stand up, exercise and tear down the asynchronous API pattern on AWS.

    API Gateway POST /submit queues jobs straight into SQS; a processor Lambda drains the queue
    (batches of 10, dead-letter queue after 3 receives); status lives in DynamoDB, results in S3;
    GET /status/{jobId} answers from a status Lambda.
    """


# Each command family lives in commands/ and registers itself on `main` (commands import options.py,
# never this module): the stack's lifecycle (up, plan, status, down); test-job; the feature commands,
# init, demo and local; the day-two groups (jobs, dlq, logs) and alarms.
from .commands import alarms, dashboard, daytwo, export, extras, stack, test_job  # noqa: E402

for _family in (stack, test_job, extras, daytwo, alarms, dashboard, export):
    _family.register(main)
