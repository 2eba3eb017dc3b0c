"""Notifications: every way an alert change leaves the service, behind one channel interface.

- :mod:`channel` — the interface: a channel takes a :class:`Batch` of alert changes and raises
  :class:`ChannelError` saying whether a retry can help (healthchecks' ``TransportError``);
- :mod:`config` — the ``notify`` section of config.yaml, validated strictly (pure);
- :mod:`routing` — first-match routes, group keys and the group_wait/group_interval rule (pure);
- :mod:`formats` — the bodies: our JSON, WeCom, DingTalk, Feishu, Slack, e-mail text (pure);
- :mod:`receivers` — webhook (requests) and e-mail (smtplib) channels;
- :mod:`engine` — storage: alert changes routed into groups, groups flushed into messages,
  messages delivered per receiver with back-off (at least once, message id stable).
"""
