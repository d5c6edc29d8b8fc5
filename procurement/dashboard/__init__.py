"""The auditor dashboard at /dashboard/: target progress and the ledger's splits, drawn on the
server as inline SVG (no JavaScript, no external resources)."""
