"""Development tools that do not ship in the wheel: the demo workspace generator."""
