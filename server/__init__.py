"""The composition root: the app factory, the command line, the demo and the worker's actor registry.

It is the one package that imports every domain; `linli/` (the shared ground) and the domains never import it.
"""
