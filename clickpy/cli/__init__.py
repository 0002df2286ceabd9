"""The clickpy command line."""
