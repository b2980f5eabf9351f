class DevstackError(RuntimeError):
    """A local service could not start; the message says what to do about it."""
