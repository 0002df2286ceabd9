"""Standard elements: sources, sinks, queues, schedulers, switches, basic packet edits."""
