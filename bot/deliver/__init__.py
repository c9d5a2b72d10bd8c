"""Delivery: findings that reach people (Slack nudges, Jira comments) through one outbox.

policy.py decides who hears what and when; routing.py maps Jira users to Slack;
slack.py builds Block Kit; slack_client.py and comments.py talk to Slack and
Jira; outbox.py records before sending and sends exactly once; breaker.py holds
runs that would spam; audit.py logs every delivery and waiver; run.py ties a
run together for the commands and the scheduler.
"""
