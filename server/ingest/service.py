"""The ingest service's factory: the MQTT consumer configured from the app's settings."""

from __future__ import annotations

from ..context import AppContext, Service
from .consumer import Consumer, MqttConfig
from .metrics import IngestMetrics


def ingest_service(ctx: AppContext) -> Service:
    s = ctx.settings
    cfg = MqttConfig(
        ctx.mqtt_url,
        root=s.mqtt_root,
        share_group=None if ctx.embedded_broker else s.mqtt_share_group,
        client_id=s.mqtt_client_id,
        username=ctx.mqtt_user[0] if ctx.mqtt_user else None,
        password=ctx.mqtt_user[1] if ctx.mqtt_user else None,
        ca=str(s.mqtt_tls_ca) if s.mqtt_tls_ca else None,
        cert=str(s.mqtt_tls_cert) if s.mqtt_tls_cert else None,
        key=str(s.mqtt_tls_key) if s.mqtt_tls_key else None,
        protocol="3.1.1" if ctx.embedded_broker else "auto",
    )
    return Consumer(
        cfg,
        ctx.pool,
        tz=s.utility_timezone,
        batch_max=s.ingest_batch_max,
        batch_ms=s.ingest_batch_ms,
        future_tolerance_s=s.future_tolerance_s,
        retention_days=s.retention_days,
        clock=ctx.clock,
        writers=s.ingest_writers,
        stall_s=s.ingest_stall_s,
        metrics=IngestMetrics(ctx.metrics),
    )
