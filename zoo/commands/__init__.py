"""Subcommands of ``zoo`` that do real work on a user's files, one module each: each
module has ``add_parser(commands)`` and the ``run(args)`` it sets as the default."""
