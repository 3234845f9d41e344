"""Command families that live outside cli.py (each registers itself on the group, imported at the end of
cli.py), and what test-job prints of its runs (job_runs, feature_runs)."""
