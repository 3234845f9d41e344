"""asyncapi: the asynchronous API pattern (API Gateway -> SQS -> Lambda -> DynamoDB/S3) as a CLI."""

__version__ = "0.1.0"
