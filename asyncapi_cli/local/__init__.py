"""The embedded local AWS: moto as the control plane, plus what moto does not execute.

- gateway: serves deployed REST API stages (VTL templates, validators, SQS and Lambda integrations)
- lambda_runtime: runs uploaded function zips in warm worker processes
- poller: SQS event source mappings, with batching windows and partial batch responses
"""
