"""The user-facing error every layer raises for bad input (scenario files, overrides, network
files, specs). The command line turns it into a one-paragraph message and exit code 2."""


class ScenarioError(ValueError):
    """Input that cannot be used; the message names the file, the field, the value and what is
    allowed."""
