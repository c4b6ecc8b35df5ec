"""The worker runtime: how workflow code is run, live by workers and again by replayers.

`connection` (the client and its data converter), `codec` and `keyring` (payload encryption
and its keys), `sandbox` (what workflow code may import from the host, and the runner every
worker and replayer uses), `ordering` (updates after the other jobs of an activation),
`workers` (one worker per task queue), `catalogue` (the task queues to serve), `replayer` (the
replayer configured as the worker is), `errors` and `logs`.
Below `worker.py` and `motcua`; never imports either.
"""
