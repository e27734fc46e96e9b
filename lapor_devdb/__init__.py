"""LAPOR's development stand-in MongoDB server: for development and tests only, never production.

Where no MongoDB server exists, this package runs a small server that speaks the MongoDB
wire protocol (:mod:`lapor_devdb.server`, one asyncio loop for every connection), evaluates
queries and updates with mongomock (:mod:`lapor_devdb.engine`) and keeps every document in
memory. It is the optional extra ``pip install 'lapor[devdb]'`` (part of ``[dev]``): the
services never import it, only ``lapor devdb``, ``LAPOR_MONGO_URL=memory://`` and the tests.
Services still connect through the real ``AsyncMongoClient`` over TCP, so there is one
storage code path, several processes can share one stand-in, and a restarted process finds
what it wrote before. All data is lost
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

Indexes work as in MongoDB, for speed as well as uniqueness and expiry
(:mod:`lapor_devdb.indexes`): a query that pins ``_id`` looks its documents up; equality,
``$in`` and range conditions on an indexed field take their candidates from that index; a
sorted query with a limit walks an index on its sort field and stops when it has enough.
A report's commands cost the same at 20,000 stored cases as at 100 (``bench/devdb.py``).
Only a query that no index serves scans its collection, as it would on MongoDB.

It refuses what MongoDB 7 refuses, with MongoDB's codes (:mod:`lapor_devdb.strict`):
conflicting update paths (40), fields inside non-documents (28), nesting deeper than 100
levels (15), documents over 16 MiB (17419 after an update, 2 on insert), parallel arrays
in a compound index (171), clashing index names or keys (86 / 85); ``$min`` and ``$max``
compare by BSON type order.

Differences from a real server: cursors are snapshots taken when the query runs; all
commands run one at a time; documents whose sort values tie come in index order, and a
single-document write whose filter several documents match takes the first its index
gives (MongoDB promises neither order); duplicate-key errors do not say which index was
violated; query and aggregation corner cases follow mongomock (random comparisons in
tests/integration/test_devdb.py hold the indexes to mongomock's own scans), and a mongomock
failure is reported as an error naming the stand-in.
"""

from lapor_devdb.server import StandInMongoServer, serve_forever

__all__ = ["StandInMongoServer", "serve_forever"]
