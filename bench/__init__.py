"""Benchmarks: timing and load scripts, and the AWS-like timing model they run against."""
