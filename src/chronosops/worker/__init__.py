"""The job runner edge: `chronosops worker` runs the jobs the API enqueues.

On PostgreSQL it is a Procrastinate worker (several can run, on any host); on the embedded
SQLite default it runs the same job functions from the jobs table, beside the API's own
in-process runner.
"""

from chronosops.worker.queue import build_queue, run_worker

__all__ = ["build_queue", "run_worker"]
