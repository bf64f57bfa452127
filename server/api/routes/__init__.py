"""The HTTP API, one room per resource; each module has a ``router`` (the archive builds its
own with ``archive_router()``) that :func:`server.api.app.create_app` includes.

health        liveness, readiness (database and broker), Prometheus metrics
auth          sign-in, sign-out, who am I, users (admins)
archive       meters, areas, gateways, org units; the CSV/XLSX import
readings      a meter's curve, latest values, freezes, raw readings and events of a day
ingest        what ingestion kept aside, gateways' state, commands to gateways
completeness  the day's reports: success rate, failed meters, curve completeness, line loss
reread        staff re-reading of past days
anomalies     the anomaly list, staff's status decisions, running the rules on demand
rules         the rules' parameters
jobs          what the scheduled jobs did
export        not a room: a report's rows as JSON, CSV or XLSX

Routes take what they need from :mod:`server.api.deps`, answer with the models of
:mod:`server.api.models`, and leave SQL to :mod:`server.db.queries`.
"""
