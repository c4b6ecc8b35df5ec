"""Auditing dossiers from their Temporal histories: replay, trail, export and verify.

`replay` checks that the current workflow code still replays recorded histories; `trail`
builds a dossier's audit trail from its history alone; `export` writes a verifiable bundle.
Modules are imported by what uses them, so `motcua audit verify` loads no workflow code.
"""
