"""Router graphs: elaboration, checks, catalog of classes, drawing."""
