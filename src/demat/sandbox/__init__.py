"""demat.sandbox."""
