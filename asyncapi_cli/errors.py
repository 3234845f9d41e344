"""Errors the CLI turns into one line on stderr and a documented exit code."""

from __future__ import annotations

# Exit codes (documented in README.md, "Exit codes").
EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2  # bad input, bad or missing state file, test-job timeout
EXIT_AWS = 3  # credentials, endpoint, permissions, or an AWS error we could not retry past
EXIT_BUSY = 4  # another up/down holds the state lock
EXIT_DRIFT = 5  # status --exit-code: something drifted (2 already means bad input)
EXIT_INTERRUPTED = 130


class AsyncApiError(Exception):
    """An expected failure with a message meant for the user."""

    exit_code = EXIT_USAGE


class InputError(AsyncApiError):
    exit_code = EXIT_USAGE


class StateError(AsyncApiError):
    exit_code = EXIT_USAGE


class AwsError(AsyncApiError):
    exit_code = EXIT_AWS


class LockBusyError(AsyncApiError):
    exit_code = EXIT_BUSY


class JobTimeoutError(AsyncApiError):
    exit_code = EXIT_USAGE


class AlreadyExists(Exception):
    """A unit's create met its resource already there (not a user-facing error): the engine then
    finds it and converges it as it would have had it looked first (engine._apply, create_first)."""
