"""The weekly hygiene digest: figures per team and organisation, and their outputs.

``metrics`` computes the figures from a scan result and the stored history;
``render`` writes Markdown, text, JSON and the HTML dashboard; ``slack`` builds
the Block Kit messages. ``bot.commands.digest`` wires them to the CLI.
"""
