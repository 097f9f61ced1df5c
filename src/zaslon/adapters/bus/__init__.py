"""The bus of the scale-out shape: NATS JetStream (``ZASLON_BUS_URL=nats://…``) with PostgreSQL as the store.

- ``streams``: the subjects, streams and message codec every node shares;
- ``api_node``: what a stateless API node does to have a transfer decided (publish, wait for the answer);
- ``worker``: a scoring worker, owning partitions of accounts, plus the outbox relay and the event consumers.
The embedded default (``inproc://``) uses none of it.
"""
