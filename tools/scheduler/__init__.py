"""The scheduler: durable jobs in `scheduled_jobs`, claimed by workers, each run through `tools.dispatch()`.

queue.py (claim, finish, insert), outcomes.py (what a run means for its job), handlers.py (one per job
kind), planners.py (recurring work -> jobs), sequences.py (action sequences), runner.py (one job's run).
The process loop is `server.worker`.
"""
