"""Everything the servir package raises derives from ServirError, so a script catches one type."""


class ServirError(Exception):
    """A failure of the SDK, the client or the CLI, with a message meant for the user."""


class BundleError(ServirError):
    """A model cannot be saved as a bundle (or a bundle cannot be read): the message says why."""
