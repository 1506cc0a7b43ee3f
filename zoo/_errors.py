"""The base of every error a user can fix by changing their input."""


class ZooError(Exception):
    """Raised for bad input (a name, an option, a file, a data set): the message says what was wrong,
    with what value, and what to do. The CLI prints it as one line and exits with code 2."""

    def __str__(self) -> str:  # LookupError subclasses would repr() a single argument
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()
