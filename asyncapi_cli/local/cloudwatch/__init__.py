"""The embedded AWS's CloudWatch and SNS behaviour: the metrics its services publish (AWS/SQS, AWS/Lambda,
AWS/ApiGateway, EMF), GetMetricData / GetMetricStatistics answered as AWS aggregates, alarm evaluation
with AWS's semantics and actions, and SNS delivery to HTTP(S) and email subscriptions.

Importing the package registers its moto patches (patches.py); service.py runs it in the server."""

from . import patches  # noqa: F401  (registers the patches)
