"""demat.elections."""
