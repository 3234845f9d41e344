"""`asyncapi dashboard`: a web console for the stack's jobs, queues, dead letters and schedules."""
