"""The exit codes of every command: app.py, config, ops/ and policies/ (one meaning each).

The pipeline's steps and the GitHub workflows only tell success from failure; a person, or a
script wrapping `make`, can tell a problem with the input (fix the file, the flag, the
environment variable) from a check that failed or a call that did not go through.
"""

from __future__ import annotations

SUCCESS = 0
# What the command checked failed (a finding, a firing alarm, a conflict), or a call it made
# (AWS, GitHub, git, docker) did not go through.
FAILURE = 1
# The input is wrong: the environment file, an argument, an environment variable, a file the
# command reads. One line names what; argparse exits with the same code for a bad flag.
BAD_INPUT = 2
# The bake found no health alarm where it looks: a setup problem (wrong account, region or
# prefix, or the environment is not deployed), told apart from an alarm that fired (FAILURE).
NO_HEALTH_ALARMS = 3
