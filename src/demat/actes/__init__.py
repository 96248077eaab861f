"""demat.actes."""
