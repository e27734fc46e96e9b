"""LAPOR's development stand-in MongoDB server: for development and tests only, never production.

Where no MongoDB server exists, this module runs a small server that speaks the MongoDB
wire protocol (mockupdb reads and answers the messages, mongomock evaluates queries and
updates) and keeps every document in memory. Services still connect through the real
``AsyncMongoClient`` over TCP, so there is one storage code path, several processes can
share one stand-in, and a restarted process finds what it wrote before. All data is lost
when the stand-in exits.

It answers the subset of MongoDB that LAPOR uses and refuses everything else with an
error that names what is unsupported (PyMongo raises ``OperationFailure``), never with a
guessed answer:

* handshake and admin: ``hello`` / ``isMaster``, ``ping``, ``buildInfo``,
  ``getParameter`` (featureCompatibilityVersion only), ``endSessions``,
  ``listDatabases``, ``dropDatabase``;
* reads: ``find``, ``getMore``, ``killCursors``, ``count``, ``distinct``, ``aggregate``
  with the stages $match $group $sort $project $limit $skip $count $unwind $addFields
  $set $replaceRoot $lookup $facet;
* writes: ``insert``, ``update`` (a replacement document, or the operators $set $unset
  $inc $push $pull $pullAll $addToSet $pop $setOnInsert $min $max $currentDate
  $rename), ``delete``, ``findAndModify``; a unique index violation is error 11000;
* collections and indexes: ``create``, ``drop``, ``listCollections``, ``createIndexes``
  (ascending/descending keys; unique, sparse, partialFilterExpression and TTL indexes
  are enforced), ``listIndexes``, ``dropIndexes``.

Refused: transactions, authentication, collations, array filters, pipeline-style updates,
``let`` variables, text/geo/hashed indexes, capped collections, validators, $out/$merge,
change streams and every other command. It is a standalone node that accepts logical
sessions (``lsid`` is ignored) but no retryable-write or transaction numbers.

Differences from a real server: cursors are snapshots taken when the query runs; all
commands run one at a time; indexes only enforce uniqueness and expiry, not speed: a
query or write whose filter pins ``_id`` to plain values (``{_id: v}``, ``{$eq: v}``, a
short ``$in``, also inside a top-level ``$and``) looks its document up directly, and a
unique index check looks up the documents holding the same key, but every other query
scans its whole collection and slows down as the collection grows; duplicate-key errors
do not say which index was violated; query and aggregation corner cases follow mongomock,
and a mongomock failure is reported as an error naming the stand-in.
"""

from lapor_devdb.server import StandInMongoServer, serve_forever

__all__ = ["StandInMongoServer", "serve_forever"]
