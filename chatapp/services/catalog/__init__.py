"""What can be used: the models this server serves, users' own keys, their preferences."""
