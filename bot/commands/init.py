"""`govbot init`: write a commented starter govbot.yaml (field ids from Jira with --from-jira)."""

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
@click.option("--from-jira", "from_jira", is_flag=True,
              help="Read the site's field list (JIRA_URL or --jira-url, credentials from the environment) "
                   "and fill in the field ids.")
@handle_errors
def init(path, force, jira_url, projects, timezone, from_jira):
    """Write a commented starter govbot.yaml.

    It loads as it is.
    With --from-jira, govbot reads the site's field list once and writes the
    id of each custom field it recognises (Anticipated Outcome, Actual
    Outcome, Outcome Owner, ... by name or synonym) into fields:; fields the
    site lacks are left commented out, and rules read description sections
    of those names instead.

    \b
    Examples:
      govbot init
      govbot init --jira-url https://acme.atlassian.net --project PAY --project MOB --timezone Europe/London
      JIRA_URL=https://jira.example.com JIRA_PAT=... govbot init --from-jira --project PAY
    """
    from bot.init import check_target, discover_fields, write_starter

    discovery = None
    if from_jira:
        check_target(path, force=force)  # say so before asking Jira anything
        discovery = discover_fields(jira_url=jira_url)
        jira_url = discovery.url
    written = write_starter(path, force=force, jira_url=jira_url, projects=projects, timezone=timezone,
                            discovery=discovery)
    click.echo(f"Wrote {written}.")
    if discovery is not None:
        click.echo(field_summary(discovery))
    click.echo(next_steps(written, jira_url=jira_url, from_jira=from_jira))


def field_summary(discovery) -> str:
    """What --from-jira found, one line per logical field (names from Jira made terminal-safe)."""
    from bot.escape import terminal_safe

    lines = [f"Read {discovery.field_count} fields from {terminal_safe(discovery.site)}: "
             f"{len(discovery.found)} of {len(discovery.matches)} logical fields found."]
    width = max((len(m.logical) for m in discovery.matches), default=0)
    for match in discovery.matches:
        if match.found:
            where = ", ".join(f"{info.id} ({terminal_safe(info.name.strip())})" for info in match.found)
            lines.append(f"  {match.logical:<{width}}  {terminal_safe(where)}")
        else:
            lines.append(f"  {match.logical:<{width}}  not found: rules read description sections instead")
    for label, infos in (("Epic Link", discovery.epic_link), ("Parent Link", discovery.parent_link)):
        if infos:
            lines.append(f"  {label:<{width}}  {terminal_safe(', '.join(info.id for info in infos))} "
                         f"(found by type; nothing to set)")
    if discovery.issue_types:
        lines.append(f"Read {len(discovery.issue_types)} issue types: the hierarchy section lists each under its level.")
    else:
        lines.append("The issue types could not be read (/rest/api/2/issuetype): the hierarchy section is the "
                     "commented example; Jira's own signals still place the standard types.")
    return "\n".join(lines)


def next_steps(written, *, jira_url: str | None, from_jira: bool = False) -> str:
    """What to do after `init`: the Jira site, the credentials for Cloud or Data Center, then check."""
    steps = [] if jira_url else [f"set jira.url in {written} (or JIRA_URL in the environment)"]
    if from_jira:
        steps += ["give govbot the same Jira credentials where it runs (environment, never the file)"]
    else:
        steps += ["set the Jira credentials in the environment (never in the file):\n"
                  "       Jira Cloud:   JIRA_EMAIL and JIRA_API_TOKEN\n"
                  "       Data Center:  JIRA_PAT"]
    steps += [f"govbot doctor --config {written}, then govbot scan --config {written}"]
    return "Next:\n" + "\n".join(f"  {number}. {step}" for number, step in enumerate(steps, 1))
