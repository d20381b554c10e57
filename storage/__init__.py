"""Storage: the database (SQLAlchemy models, Alembic migrations) and one module of queries per aggregate
(segments, gaps, locks, complaints, events, audit chain, users, tokens), retention as a pure plan, evidence
packages and the recordings' path layout. Imports only :mod:`config`.
"""
