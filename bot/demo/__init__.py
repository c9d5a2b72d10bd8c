"""The bundled demo workspace (``workspace.json``), its config and the generator behind it."""
