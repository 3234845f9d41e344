"""The embedded local AWS: moto as the control plane, plus what moto does not execute.

- server.py starts it (one process on 127.0.0.1); manager.py is how the CLI starts, finds and stops it
- gateway/: serves deployed REST API stages (VTL templates, validators, SQS and Lambda integrations)
- lambda_/: runs uploaded function zips in warm worker processes forked from a zygote
- events/: SQS and DynamoDB stream event source mappings, SQS message move tasks
- websocket/, scheduler.py, logs.py: WebSocket APIs, EventBridge Scheduler runs, CloudWatch Logs
- moto_server/: moto's server with connections kept alive
- compat/: the one seam to moto's (and airspeed's) internals: every patch, registered and guarded
"""
