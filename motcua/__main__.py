"""`python -m motcua` runs the command line."""

from motcua.cli import entry

entry()
