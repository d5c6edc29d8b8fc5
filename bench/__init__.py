"""Dataset generators and benchmarks. They print figures; nothing here passes or fails on them.

See bench/README.md. Shared machinery (throw-away PostgreSQL, gunicorn, HTTP timing,
percentiles, server-side statement counting) lives in bench/common.py.
"""
