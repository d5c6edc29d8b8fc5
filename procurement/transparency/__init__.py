"""The ledger as a transparency log (docs/ledger.md, "The transparency log").

`merkle` and `verifier` import neither Django nor the database: the offline verifier ships them
to auditors. `store` and `checkpoints` keep the tree in the database.
"""
