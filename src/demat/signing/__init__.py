"""Keys, certificates, XAdES signatures, trust and timestamps."""
