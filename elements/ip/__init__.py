"""IP elements: header checks and edits, encapsulation, fragmentation, printing."""
