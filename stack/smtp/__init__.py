"""stack.smtp: the hop that every service of the stack is made of.

One inbound SMTP endpoint (:mod:`~stack.smtp.server`, on aiosmtpd, with the sans-IO policy of
:mod:`~stack.smtp.policy`), one transform, a durable spool (:mod:`~stack.smtp.spool`) and one
forward destination (:mod:`~stack.smtp.forward`, through the outbound client of
:mod:`~stack.smtp.client`).  Bounces are RFC 3464 reports (:mod:`~stack.smtp.dsn`).
"""
