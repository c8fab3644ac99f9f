"""Connecting to the MQTT broker with paho-mqtt: MQTT 5, QoS 1, persistent sessions, TLS and
credentials from the settings, reconnection with backoff.

Why these choices (docs/valves.md, "Transport"):

- MQTT 5 so that the client states its *receive maximum*: the broker then keeps up to that many
  QoS 1 messages in flight to the gateway (Mosquitto's own default for MQTT 3.1.1 clients is 20,
  which caps throughput at 20 messages per round trip of the ledger).
- A persistent session (``clean_start`` false, a session expiry): while the gateway is away the
  broker keeps its subscriptions and the devices' reports, and delivers them on reconnection.
- Manual acknowledgement: a report is acknowledged to the broker only after the ledger saved it,
  so a gateway that dies between the two gets the report again (and records it once: reports are
  idempotent by their ``report_id``).
- paho's network thread reconnects by itself, waiting 1, 2, 4, ... up to 60 seconds.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from infrastructure.settings import Environment, Settings

QOS_AT_LEAST_ONCE = 1
# The broker keeps at most this many unacknowledged messages in flight to one gateway: enough for
# each recorder thread to have its next batch waiting while it saves one (2 recorders x 500 in a
# save left none waiting at 1,000); memory is a few hundred bytes a message.
RECEIVE_MAXIMUM = 4000
RECONNECT_MINIMUM_SECONDS = 1
RECONNECT_MAXIMUM_SECONDS = 60


class UnsafeBrokerError(ValueError):
    """Production refuses to send commands to a broker elsewhere without TLS, or without credentials."""


@dataclass(frozen=True)
class BrokerOptions:
    """Where the broker is and how to reach it; built from the settings (``broker_options``)."""

    host: str = "127.0.0.1"
    port: int = 1883
    client_id: str = "heatledger-gateway-1"
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    keepalive_seconds: int = 30
    session_expiry_seconds: int = 7 * 24 * 3600
    receive_maximum: int = RECEIVE_MAXIMUM

    def with_client_id(self, client_id: str) -> BrokerOptions:
        """The same broker under another client id (each process needs its own)."""
        return BrokerOptions(**{**self.__dict__, "client_id": client_id})


def broker_options(settings: Settings) -> BrokerOptions:
    """The broker of the settings; production refuses a remote broker without TLS or credentials."""
    options = BrokerOptions(
        host=settings.mqtt_host,
        port=settings.mqtt_port,
        client_id=settings.mqtt_client_id,
        username=settings.mqtt_username,
        password=settings.mqtt_password,
        tls=settings.mqtt_tls,
        ca_file=settings.mqtt_ca_file,
        cert_file=settings.mqtt_cert_file,
        key_file=settings.mqtt_key_file,
        keepalive_seconds=settings.mqtt_keepalive_seconds,
        session_expiry_seconds=settings.mqtt_session_expiry_seconds,
    )
    if settings.environment is Environment.PRODUCTION:
        _refuse_unsafe(options)
    return options


def _refuse_unsafe(options: BrokerOptions) -> None:
    if not options.tls and not _is_loopback(options.host):
        raise UnsafeBrokerError(
            f"production talks to the broker at {options.host} over TLS only: set HEATLEDGER_MQTT_TLS=true"
        )
    if not options.username and options.cert_file is None:
        raise UnsafeBrokerError(
            "production authenticates to the broker: set HEATLEDGER_MQTT_USERNAME and _PASSWORD, or a client "
            "certificate (HEATLEDGER_MQTT_CERT_FILE)"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_client(options: BrokerOptions, *, manual_ack: bool) -> mqtt.Client:
    """A paho client for ``options``, not yet connected (``start`` connects it)."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=options.client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=manual_ack,
    )
    client.reconnect_delay_set(RECONNECT_MINIMUM_SECONDS, RECONNECT_MAXIMUM_SECONDS)
    # Outgoing QoS 1 messages awaiting the broker's PUBACK; the rest wait in paho's queue.
    client.max_inflight_messages_set(100)
    if options.username:
        client.username_pw_set(options.username, options.password or None)
    if options.tls:
        client.tls_set(
            ca_certs=str(options.ca_file) if options.ca_file else None,
            certfile=str(options.cert_file) if options.cert_file else None,
            keyfile=str(options.key_file) if options.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    return client


def start(client: mqtt.Client, options: BrokerOptions, *, persistent: bool) -> None:
    """Connect in paho's network thread, which also reconnects with backoff after a loss.

    ``persistent`` asks the broker to keep the session (subscriptions, unacknowledged messages)
    for ``session_expiry_seconds`` after a disconnection."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.ReceiveMaximum = options.receive_maximum
    if persistent:
        properties.SessionExpiryInterval = options.session_expiry_seconds
    client.connect_async(
        options.host, options.port, options.keepalive_seconds, clean_start=not persistent, properties=properties
    )
    client.loop_start()


def stop(client: mqtt.Client) -> None:
    """Disconnect cleanly (the broker keeps a persistent session) and end the network thread."""
    client.disconnect()
    client.loop_stop()
