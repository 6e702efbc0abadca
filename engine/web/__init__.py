"""The FastAPI app: JSON API and server-rendered pages for reviewers."""
