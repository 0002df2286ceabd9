"""TCP and UDP elements: encapsulation and transport-header edits."""
