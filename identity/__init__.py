"""Who may act and what may run: signed officer assertions, keys, the published catalogue.

Pure: no Temporal, and no I/O but the key and manifest files a caller names. The front door
(`motcua login`, a web front end) issues assertions with a private key; workers verify them,
and the published catalogue, with public keys they are configured with.
"""
