"""The embedded CloudWatch's and SNS's patches to moto, through the compat registry (all fidelity: without
them the emulator would answer differently from AWS, or not publish the metrics at all).

- cloudwatch-metrics: GetMetricData / GetMetricStatistics from the metric store (queries.py: moto's
  dimension matching, period alignment and percentiles differ from AWS); PutMetricData's datums indexed.
- cloudwatch-alarms: new alarms in INSUFFICIENT_DATA, updates keep the state, transitions recorded and
  their actions run, DescribeAlarmHistory (alarms.py).
- sqs-metrics: the SQS API counts behind NumberOfMessagesSent / Received / Deleted / EmptyReceives.
- sns-delivery: subscription confirmation, signed HTTP(S) delivery with retries, email to the log,
  replacing moto's own delivery (sns.py).

Where a patch works around a moto bug, the ready-to-send fix (against moto 5.2.5, with its test) is in the
repository's upstream/ folder, named in the registration.
"""

from __future__ import annotations

from ..compat.registry import Patch, register
from . import alarms, publishers, queries, sns

CW_MODELS = "moto.cloudwatch.models"
CW_RESPONSES = "moto.cloudwatch.responses:CloudWatchResponse"
SNS_MODELS = "moto.sns.models"
SNS_RESPONSES = "moto.sns.responses:SNSResponse"
GROUPS = ("cloudwatch-metrics", "cloudwatch-alarms", "sqs-metrics", "sns-delivery")

register(
    Patch(
        f"{CW_MODELS}:CloudWatchBackend.get_metric_data",
        queries._get_metric_data,
        "fidelity",
        "GetMetricData as AWS aggregates: exact dimensions, aligned periods, percentiles, arithmetic math",
        "cloudwatch-metrics",
        params=("self", "queries", "start_time", "end_time", "scan_by"),
        # the default labels: upstream/cloudwatch-metric-data-labels.diff
        upstream="upstream/cloudwatch-metric-queries.diff",
    ),
    Patch(
        f"{CW_RESPONSES}.get_metric_statistics",
        queries._get_metric_statistics,
        "fidelity",
        "GetMetricStatistics as AWS aggregates, ExtendedStatistics included",
        "cloudwatch-metrics",
        params=("self",),
        # the 1,440-datapoint limit: upstream/cloudwatch-statistics-datapoint-limit.diff; the "None" unit:
        # upstream/cloudwatch-statistics-unit-none.diff
        upstream="upstream/cloudwatch-metric-queries.diff",
    ),
    Patch(
        f"{CW_MODELS}:CloudWatchBackend.put_metric_data",
        queries._put_metric_data,
        "fidelity",
        "PutMetricData's datums indexed by series for the queries and alarms",
        "cloudwatch-metrics",
        params=("self", "namespace", "metric_data"),
    ),
    Patch(
        f"{CW_MODELS}:CloudWatchBackend.put_metric_alarm",
        alarms._put_metric_alarm,
        "fidelity",
        "a new alarm starts in INSUFFICIENT_DATA; an update keeps the state",
        "cloudwatch-alarms",
        upstream="upstream/cloudwatch-alarm-initial-state.diff",
    ),
    Patch(
        f"{CW_MODELS}:Alarm.update_state",
        alarms._update_state,
        "fidelity",
        "state changes recorded in the history and their actions run",
        "cloudwatch-alarms",
        params=("self", "reason", "reason_data", "state_value"),
    ),
    Patch(
        f"{CW_RESPONSES}.describe_alarm_history",
        alarms._describe_alarm_history,
        "fidelity",
        "DescribeAlarmHistory",
        "cloudwatch-alarms",
        adds=True,
    ),
    Patch(
        "moto.sqs.models:SQSBackend.receive_message",
        publishers._receive_message,
        "fidelity",
        "NumberOfMessagesReceived and NumberOfEmptyReceives",
        "sqs-metrics",
    ),
    Patch(
        "moto.sqs.models:SQSBackend.delete_message",
        publishers._delete_message,
        "fidelity",
        "NumberOfMessagesDeleted",
        "sqs-metrics",
        params=("self", "queue_name", "receipt_handle"),
    ),
    Patch(
        "moto.sqs.models:SQSBackend.send_message_batch",
        publishers._send_message_batch,
        "fidelity",
        "NumberOfMessagesSent (SendMessageBatch)",
        "sqs-metrics",
        params=("self", "queue_name", "entries"),
    ),
    Patch(
        "moto.sqs.responses:SQSResponse.send_message",
        publishers._send_message_answer,
        "fidelity",
        "NumberOfMessagesSent (SendMessage; not a redrive to a dead-letter queue)",
        "sqs-metrics",
        params=("self",),
    ),
    Patch(
        f"{SNS_MODELS}:SNSBackend.subscribe",
        sns._subscribe,
        "fidelity",
        "http(s)/email subscriptions pending until confirmed; loopback endpoints only",
        "sns-delivery",
        params=("self", "topic_arn", "endpoint", "protocol"),
    ),
    Patch(
        f"{SNS_MODELS}:Subscription.publish",
        sns._publish,
        "fidelity",
        "signed HTTP(S) notifications with retries, email to the server log",
        "sns-delivery",
    ),
    Patch(
        f"{SNS_MODELS}:SNSBackend.unsubscribe",
        sns._unsubscribe,
        "fidelity",
        "an HTTP(S) endpoint gets the UnsubscribeConfirmation",
        "sns-delivery",
        params=("self", "subscription_arn"),
    ),
    Patch(
        f"{SNS_RESPONSES}.subscribe",
        sns._subscribe_answer,
        "fidelity",
        '"pending confirmation"',
        "sns-delivery",
    ),
    Patch(
        f"{SNS_RESPONSES}.confirm_subscription",
        sns._confirm_answer,
        "fidelity",
        "ConfirmSubscription checks the token",
        "sns-delivery",
    ),
    Patch(
        f"{SNS_RESPONSES}.list_subscriptions",
        sns._listing,
        "fidelity",
        "pending subscriptions listed as PendingConfirmation",
        "sns-delivery",
    ),
    Patch(
        f"{SNS_RESPONSES}.list_subscriptions_by_topic",
        sns._listing,
        "fidelity",
        "pending subscriptions listed as PendingConfirmation",
        "sns-delivery",
    ),
)
