"""What people and machines read of a run: terminal text, Markdown, JSON, Slack mrkdwn."""
