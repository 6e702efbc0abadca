"""Email: rendering alerts from Jinja2 templates and delivering them over SMTP.

An adapter: it knows nothing of the database. `engine.services.alerts` reads outbox rows,
asks `render` for the message and hands it to `smtp.SmtpSender`.
"""
