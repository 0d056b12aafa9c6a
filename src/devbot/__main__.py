from devbot.triggers.cli import entry

entry()
