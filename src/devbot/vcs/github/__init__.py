"""GitHub and GitHub Enterprise: a small REST/GraphQL client and the GitHub forge.

The package imports nothing itself, so that threads importing its modules lazily
(the forge factory in one, the client in another) never meet a half-initialised package.
"""
