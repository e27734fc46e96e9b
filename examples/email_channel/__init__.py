"""An e-mail channel for LAPOR: e-mails become reports and replies, notices become e-mails.

A complete example of a channel adapter written against the public contract only
(``docs/channels.md``): it imports aio-pika and the standard library, nothing of LAPOR.
"""
