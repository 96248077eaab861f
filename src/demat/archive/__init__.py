"""demat.archive."""
