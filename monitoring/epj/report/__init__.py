"""epj report — cost and gains per municipality."""
