"""Everything in the runtime that reaches into uvicorn's private httptools protocol, in one place.

uvicorn lets a server pass its own protocol class (`http=`), but the class to start from,
`uvicorn.protocols.http.httptools_impl.HttpToolsProtocol`, is not public API. `heads.py` (the
bounded request head) and `connections.py` (deadlines, a cap per IP, a lingering close)
subclass it and rely on:

- the module's `HttpToolsProtocol`, `RequestResponseCycle` and `STATUS_LINE` (status -> bytes,
  whose 413 and 422 lines `reasons.py` rewrites with RFC 9110's phrases);
- the protocol's parser callbacks and hooks, overridden and called through `super()`:
  `connection_made`, `connection_lost`, `data_received`, `on_message_begin`, `on_url`,
  `on_header`, `on_headers_complete`, `on_message_complete`, `on_response_complete`, and
  `send_400_response`, which `data_received` calls when a callback raises
  `httptools.HttpParserError`;
- its attributes `transport`, `flow` (`resume_reading`), `loop`, `client`, `connections`,
  `pipeline`, `cycle`, `url`, `headers`, `scope` and `server_state` (`default_headers`,
  `total_requests`);
- a cycle's `send`, `transport`, `keep_alive`, `response_started`, `response_complete`,
  `disconnected`, `message_event`, and its calling back the protocol's own
  `on_response_complete`.

service-runtime's pyproject pins uvicorn to the versions this was checked on;
tests/servir_runtime/test_uvicorn_private.py checks the surface above on the installed uvicorn,
so an upgrade that changes it fails there, by name.
"""

from servir_runtime.uvicorn_private.connections import GuardedProtocol, guarded_protocol
from servir_runtime.uvicorn_private.heads import BoundedHeadProtocol, bounded_head_protocol
from servir_runtime.uvicorn_private.reasons import use_rfc9110_reasons

# On import, so that every server using these protocols (or serve()) says RFC 9110's phrases.
use_rfc9110_reasons()

__all__ = [
    "BoundedHeadProtocol",
    "GuardedProtocol",
    "bounded_head_protocol",
    "guarded_protocol",
    "use_rfc9110_reasons",
]
