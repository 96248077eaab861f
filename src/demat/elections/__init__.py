"""demat.elections."""

#: Nothing yet: the package is a placeholder for the coming flow.
__all__: list[str] = []
