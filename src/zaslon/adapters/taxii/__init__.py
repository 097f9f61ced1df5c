"""TAXII 2.1: the server partners read from and write to (``server``) and our sync client (``sync``)."""
