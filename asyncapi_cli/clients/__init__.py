"""The CLI's clients of a deployed stack's API, one concern a module:

- transport: JSON over kept-alive HTTP (keepalive), the stack's API key, 429/503 asked again after a
  bounded, jittered wait never shorter than Retry-After, and the status poll every follower uses;
- payloads: `--payload` (one object, or a batch's objects);
- jobs: POST /submit, follow GET /status/{jobId}, read the result;
- batches: POST /batches, follow GET /batches/{batchId};
- schedules: POST, GET and DELETE /schedules, and the stack's schedule group;
- watch: a job's status pushed over the stack's WebSocket;
- url_api: an API known only by its URL (no state file).

What the commands print of these runs is in commands/ (job_runs, feature_runs).
"""
