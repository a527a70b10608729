"""Helpers shared by tests: document writers and misbehaving loaders for the parser's child process."""
