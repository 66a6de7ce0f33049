"""Demo and test material: a test PKI and SoftHSM2 tokens standing in for USB tokens."""
