"""Settings, managed policy and where Kyso keeps its state."""
