"""demat.pes."""
