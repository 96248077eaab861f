"""demat.transport."""
