"""The command-line tool: the same engine as the GUI, for scripts, tests and headless machines."""
