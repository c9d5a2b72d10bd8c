"""Runs: what every command, scheduled job and chat command does, as one batch and a consumer.

``batch`` builds a run's findings (read, evaluate, waive, record); each other
module here is one kind of run composing that batch with its consumer.
"""
