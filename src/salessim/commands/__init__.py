"""Subcommands of ``salessim`` that live beside the library modules they drive."""
