"""Event sources: the SQS and DynamoDB stream pollers, SQS message move tasks, the in-process SQS seam."""
