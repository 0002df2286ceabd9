"""The Click configuration language: lexer, parser, syntax tree, printer."""
