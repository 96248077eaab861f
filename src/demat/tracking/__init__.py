"""demat.tracking."""
