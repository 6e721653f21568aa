"""Runs a learner's script in a child process with the probes installed before its first line."""
