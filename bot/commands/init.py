"""`govbot init`: write a commented starter govbot.yaml."""

from __future__ import annotations

import click

from bot.commands.common import handle_errors


@click.command(short_help="Write a commented starter govbot.yaml.")
@click.option("--path", "path", default="govbot.yaml", show_default=True, type=click.Path(dir_okay=False),
              metavar="FILE", help="Where to write the config.")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
@click.option("--jira-url", default=None, metavar="URL", help="Your Jira site, like https://acme.atlassian.net.")
@click.option("--project", "projects", multiple=True, metavar="KEY", help="A Jira project to scan (repeatable).")
@click.option("--timezone", default=None, metavar="ZONE", help="The schedule's time zone, like Europe/London.")
@handle_errors
def init(path, force, jira_url, projects, timezone):
    """Write a commented starter govbot.yaml that loads as it is.

    \b
    Examples:
      govbot init
      govbot init --jira-url https://acme.atlassian.net --project PAY --project MOB --timezone Europe/London
    """
    from bot.init import write_starter

    written = write_starter(path, force=force, jira_url=jira_url, projects=projects, timezone=timezone)
    click.echo(f"Wrote {written}.")
    click.echo(next_steps(written, jira_url=jira_url))


def next_steps(written, *, jira_url: str | None) -> str:
    """What to do after `init`: the Jira site, the credentials for Cloud or Data Center, then check."""
    steps = [] if jira_url else [f"set jira.url in {written} (or JIRA_URL in the environment)"]
    steps += ["set the Jira credentials in the environment (never in the file):\n"
              "       Jira Cloud:   JIRA_EMAIL and JIRA_API_TOKEN\n"
              "       Data Center:  JIRA_PAT",
              f"govbot doctor --config {written}, then govbot scan --config {written}"]
    return "Next:\n" + "\n".join(f"  {number}. {step}" for number, step in enumerate(steps, 1))
