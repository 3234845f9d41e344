"""Day-two operations on a deployed stack: jobs, dead letters, logs and live queue figures."""
