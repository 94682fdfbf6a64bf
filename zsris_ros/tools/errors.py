"""The one error type of the tools' unusable inputs: missing topics, corrupt bags, bad files."""


class InputError(Exception):
    """
    Input the tools cannot use at all.

    str() is one line naming the input and what is wrong with it; the `zsris` command prints
    it and exits with status 2 instead of a traceback.
    """
