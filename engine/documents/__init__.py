"""Contract documents (.docx): rendering, intake of drafts, comparison, evaluation report.

The only package that imports python-docx. Pure: bytes and domain objects in, bytes and
domain objects out; the services layer brings the database and settings.
"""
